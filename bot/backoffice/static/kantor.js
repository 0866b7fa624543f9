/* The back office's little script: the sign-in page waits for its code to be typed in
   chat; a unit list submits on change; a revoke asks first. Pages work without it. */
(function () {
  "use strict";
  var signin = document.getElementById("signin");
  if (signin) {
    var poll = function () {
      fetch(signin.getAttribute("data-status"), {credentials: "same-origin", cache: "no-store"})
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (data.state === "done") { window.location.assign(data.next); return; }
          if (data.state === "gone") { window.location.reload(); return; }
          setTimeout(poll, 2000);
        })
        .catch(function () { setTimeout(poll, 5000); });
    };
    setTimeout(poll, 2000);
  }
  Array.prototype.forEach.call(document.querySelectorAll("select[data-autosubmit]"), function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
  Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
})();
