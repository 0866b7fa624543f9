// The web chat: send with POST, receive by polling. No libraries, works offline.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var attach = document.getElementById("attach");
  var fileInput = document.getElementById("file");
  var after = 0;
  var base = document.body.getAttribute("data-base") || "";  // "/o/<office>" for an office's own page

  function id() {
    var a = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function bubble(text, who) {
    var div = document.createElement("div");
    div.className = "msg " + who;
    div.textContent = text;
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  // While a message is on its way no poll goes out: the answer to a message may carry a
  // new session cookie (rotated on consent), and a poll with the old one must not race it.
  var sending = 0;
  function send(body, shown) {
    body.id = id();
    if (shown) { bubble(shown, "me"); }
    sending++;
    // The post is answered once the message is stored; the reply follows when a worker
    // has handled it, a moment later: look again soon, then at the usual pace.
    var done = function () { sending--; poll(); setTimeout(poll, 250); setTimeout(poll, 700); };
    var attempt = function (n) {
      return fetch(base + "/webchat/api/messages", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
      }).then(function (r) {
        if (r.status >= 500 && n < 5) { return new Promise(function (ok) { setTimeout(ok, 1000 * n); }).then(function () { return attempt(n + 1); }); }
        if (!r.ok) { return r.json().then(function (e) { bubble(e.error || "Error", "error"); }).then(done, done); }
        done();
      }).catch(function () {
        if (n < 5) { setTimeout(function () { attempt(n + 1); }, 1000 * n); }
        else { sending--; bubble("Pesan belum terkirim; periksa koneksi lalu coba lagi. / Not sent; check the connection and try again.", "error"); }
      });
    };
    attempt(1);
  }

  // Only the newest choices can be pressed, also after a reload: older ones no longer
  // apply, and the bot would read them against the question it asked last.
  function disableOld(except) {
    Array.prototype.forEach.call(log.querySelectorAll(".buttons button"), function (b) {
      if (b.parentNode !== except) { b.disabled = true; }
    });
  }

  function render(m) {
    var div = bubble(m.text, "bot");
    attach.hidden = !m.wants_files;  // the attach button only while the bot asks for files
    if (m.links && m.links.length) {  // an officer's attachments: signed links
      var list = document.createElement("div");
      list.className = "links";
      m.links.forEach(function (l) {
        var a = document.createElement("a");
        a.href = l.url;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        a.textContent = "📎 " + l.label;
        list.appendChild(a);
      });
      div.appendChild(list);
    }
    if (m.buttons && m.buttons.length) {
      var box = document.createElement("div");
      box.className = "buttons";
      m.buttons.forEach(function (row) {
        row.forEach(function (b) {
          var btn = document.createElement("button");
          btn.type = "button";
          btn.textContent = b.label;
          btn.dataset.payload = b.payload;
          btn.addEventListener("click", function () {
            Array.prototype.forEach.call(box.querySelectorAll("button"), function (x) { x.disabled = true; });
            send({ button: b.payload }, b.label);
          });
          box.appendChild(btn);
        });
      });
      div.appendChild(box);
      disableOld(box);
    }
    // The whole newest message, its choices included, in view (a phone shows little).
    log.scrollTop = log.scrollHeight;
    if (div.offsetHeight > log.clientHeight && div.scrollIntoView) { div.scrollIntoView({ block: "end" }); }
  }

  function restart(note) {
    log.textContent = "";
    after = 0;
    attach.hidden = true;
    if (note) { bubble(note, "error"); }
  }

  var polling = false;
  function poll() {
    if (polling || sending || ended) { return; }
    polling = true;
    fetch(base + "/webchat/api/messages?after=" + after, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.fresh && after > 0) {  // the session ended or expired elsewhere: start over
          restart("Sesi sebelumnya sudah berakhir. / The previous session has ended.");
          send({ text: "/mulai" }, null);
          return;
        }
        (data.messages || []).forEach(function (m) { after = Math.max(after, m.id); render(m); });
      })
      .catch(function () {})
      .then(function () { polling = false; });
  }

  // A photo or document: one multipart POST; the bot answers in the chat as for any file.
  fileInput.addEventListener("change", function () {
    var file = fileInput.files[0];
    if (!file) { return; }
    var body = new FormData();
    body.append("id", id());
    body.append("file", file);
    fileInput.value = "";
    bubble("📎 " + file.name, "me");
    fetch(base + "/webchat/api/files", { method: "POST", credentials: "same-origin", body: body })
      .then(function (r) {
        if (!r.ok) { return r.json().then(function (e) { bubble(e.error || "Error", "error"); }); }
        poll();
      })
      .catch(function () {
        bubble("Berkas belum terkirim; periksa koneksi lalu coba lagi. / File not sent; check the connection and try again.", "error");
      });
  });

  // "End session": the server forgets this visitor for good; the page says how to come back.
  var ended = false;
  document.getElementById("end").addEventListener("click", function () {
    if (!window.confirm("Akhiri sesi? Percakapan ini tidak dapat dibuka lagi dari peramban ini. / End the session? This conversation cannot be opened again from this browser.")) { return; }
    fetch(base + "/webchat/api/session/end", { method: "POST", credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) { throw new Error("end"); }
        ended = true;
        restart(null);
        var note = bubble("Sesi diakhiri. Untuk melihat pengaduan Anda lagi, ketik /status NOMOR KODE di sesi baru. / Session ended. To see your complaints again, type /status NUMBER CODE in a new session.", "bot");
        var again = document.createElement("button");
        again.type = "button";
        again.id = "again";
        again.textContent = "Mulai sesi baru / Start a new session";
        again.addEventListener("click", function () { window.location.reload(); });
        var box = document.createElement("div");
        box.className = "buttons";
        box.appendChild(again);
        note.appendChild(box);
        form.hidden = true;
      })
      .catch(function () { bubble("Sesi belum diakhiri; coba lagi. / The session was not ended; try again.", "error"); });
  });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    send({ text: text }, text);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.submit(); }
  });

  // Show what this visitor already has; a first visit starts the conversation. The survey
  // link (/survei) starts the survey, also in a conversation under way, once per tab: a
  // reload in the middle of it carries on where it was.
  var start = document.body.getAttribute("data-start") || "/mulai";
  var surveyLink = start !== "/mulai";
  var begun = false;
  try { begun = surveyLink && window.sessionStorage.getItem("aduan-survey") === "1"; } catch (e) {}
  fetch(base + "/webchat/api/messages?after=0", { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      var old = data.messages || [];
      old.forEach(function (m) { after = Math.max(after, m.id); render(m); });
      if (surveyLink && !begun) {
        try { window.sessionStorage.setItem("aduan-survey", "1"); } catch (e) {}
        send({ text: start }, null);
      } else if (!old.length) { send({ text: "/mulai" }, null); }
    })
    .catch(function () {})
    .then(function () { setInterval(poll, 1500); });
})();
