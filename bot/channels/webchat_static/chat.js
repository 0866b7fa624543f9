// The web chat: send with POST, receive by polling. No libraries, works offline.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var attach = document.getElementById("attach");
  var fileInput = document.getElementById("file");
  var after = 0;

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

  function send(body, shown) {
    body.id = id();
    if (shown) { bubble(shown, "me"); }
    var attempt = function (n) {
      return fetch("/webchat/api/messages", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
      }).then(function (r) {
        if (r.status >= 500 && n < 5) { return new Promise(function (ok) { setTimeout(ok, 1000 * n); }).then(function () { return attempt(n + 1); }); }
        if (!r.ok) { return r.json().then(function (e) { bubble(e.error || "Error", "error"); }); }
        poll();
      }).catch(function () {
        if (n < 5) { setTimeout(function () { attempt(n + 1); }, 1000 * n); }
        else { bubble("Pesan belum terkirim; periksa koneksi lalu coba lagi. / Not sent; check the connection and try again.", "error"); }
      });
    };
    attempt(1);
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
    }
  }

  var polling = false;
  function poll() {
    if (polling) { return; }
    polling = true;
    fetch("/webchat/api/messages?after=" + after, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
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
    fetch("/webchat/api/files", { method: "POST", credentials: "same-origin", body: body })
      .then(function (r) {
        if (!r.ok) { return r.json().then(function (e) { bubble(e.error || "Error", "error"); }); }
        poll();
      })
      .catch(function () {
        bubble("Berkas belum terkirim; periksa koneksi lalu coba lagi. / File not sent; check the connection and try again.", "error");
      });
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

  // Show what this visitor already has; a first visit starts the conversation.
  fetch("/webchat/api/messages?after=0", { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      var old = data.messages || [];
      old.forEach(function (m) { after = Math.max(after, m.id); render(m); });
      if (!old.length) { send({ text: "/mulai" }, null); }
    })
    .catch(function () {})
    .then(function () { setInterval(poll, 1500); });
})();
