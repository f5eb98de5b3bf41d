// The report page's only script: sign in (the token goes into a same-site cookie that GET
// requests of this origin carry) and sort the table by a clicked column.
(function () {
  "use strict";
  var signin = document.getElementById("signin");
  if (signin) {
    signin.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var token = document.getElementById("token").value.trim();
      var secure = location.protocol === "https:" ? "; Secure" : "";
      document.cookie = "bounced_token=" + encodeURIComponent(token) + "; path=/; SameSite=Strict" + secure;
      location.reload();
    });
  }
  var table = document.getElementById("report");
  if (!table) return;
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, index) {
    if (!th.dataset.key) return;
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var numeric = th.classList.contains("num");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[index].textContent, y = b.cells[index].textContent;
        var c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
