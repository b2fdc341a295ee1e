/* Operator page (/admin/): documents and index, over /admin/api/* with the admin token.
 *
 * The token stays in this tab's sessionStorage and travels only in the Authorization header.
 * Server text is only ever inserted as text nodes.
 */
(function () {
  "use strict";
  var KEY = "qa-admin-token";
  var $ = function (id) { return document.getElementById(id); };
  var PHASES = {
    queued: "Đang chờ…",
    reading: "Đang đọc tài liệu…",
    encoding: "Đang mã hóa",
    saving: "Đang lưu chỉ mục…",
    loading: "Đang nạp chỉ mục mới…",
    done: "Xong",
    failed: "Thất bại"
  };
  var STATES = {
    indexed: "đã có trong chỉ mục",
    "new": "mới, chờ cập nhật",
    changed: "đã sửa, chờ cập nhật",
    removed: "đã xóa, chờ cập nhật",
    unreadable: "không đọc được"
  };
  var pollTimer = null;
  var lastJobSeen = 0;
  var waiting = [];  // upload notes that say "đang cập nhật chỉ mục": {li, name, job}, until that job ends

  function token() { return sessionStorage.getItem(KEY) || ""; }

  function api(method, path, body, headers) {
    var h = { Authorization: "Bearer " + token() };
    for (var k in headers || {}) h[k] = headers[k];
    return fetch("api/" + path, { method: method, headers: h, body: body, cache: "no-store" }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.status === 401) { logout("Mã quản trị không đúng."); }
        return { ok: r.ok, status: r.status, data: data };
      });
    }, function () {
      return { ok: false, status: 0, data: { message_vi: "Không kết nối được máy chủ." } };
    });
  }

  function text(el, s) { el.textContent = s == null ? "" : String(s); return el; }
  function mk(tag, cls, s) { var e = document.createElement(tag); if (cls) e.className = cls; if (s != null) text(e, s); return e; }

  function size(n) {
    if (n >= 1048576) return (n / 1048576).toFixed(1) + " MB";
    if (n >= 1024) return Math.round(n / 1024) + " KB";
    return n + " B";
  }

  function when(iso) {
    if (!iso) return "?";
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString("vi-VN");
  }

  function showIndex(ix) {
    var s = "Đang phục vụ: " + ix.documents + " tài liệu · " + ix.chunks + " đoạn · chỉ mục tạo lúc " +
      when(ix.built_at) + " · nạp lúc " + when(ix.loaded_at);
    if (ix.reload_error) s += " · Chỉ mục mới trên đĩa chưa dùng được: " + ix.reload_error;
    text($("index-status"), s);
  }

  function showJob(jobs) {
    var job = jobs.running || jobs.queued || jobs.last;
    var bar = $("job-bar"), label = $("job-text"), detail = $("job-detail");
    var busy = !!(jobs.running || jobs.queued);
    $("update").disabled = busy;
    $("rebuild").disabled = busy;
    if (!job) { bar.max = 1; bar.value = 0; text(label, "Chưa có tác vụ."); detail.hidden = true; return busy; }
    var kind = job.kind === "build" ? "Tạo lại toàn bộ" : "Cập nhật";
    var msg = kind + ": " + PHASES[job.phase];
    if (job.phase === "encoding" && job.total) {
      bar.max = job.total; bar.value = job.done;
      msg += " " + job.done + "/" + job.total + " câu";
    } else if (job.phase === "done") {
      bar.max = 1; bar.value = 1;
      var sm = job.summary || {};
      msg += ": " + sm.documents + " tài liệu, " + sm.chunks + " đoạn (" + sm.seconds + " giây)";
      if (job.skipped && job.skipped.length) msg += "; bỏ qua " + job.skipped.length + " tệp không đọc được";
    } else if (job.phase === "failed") {
      bar.max = 1; bar.value = 0;
      msg += " — chỉ mục đang phục vụ không thay đổi.";
    } else {
      bar.removeAttribute("value");  // indeterminate while reading, saving or loading
    }
    text(label, msg);
    var why = job.error || (job.skipped || []).join("\n");
    detail.hidden = !why;
    text($("job-error"), why);
    if (job.phase === "done" && job.id !== lastJobSeen) { lastJobSeen = job.id; loadDocuments(); }
    settleUploads(jobs);
    return busy;
  }

  // An upload's note follows the job it started: once that job (or a later one) has ended, say how.
  function settleUploads(jobs) {
    var last = jobs.last;
    waiting = waiting.filter(function (w) {
      var pending = [jobs.running, jobs.queued].some(function (j) { return j && j.id <= w.job; });
      var mine = (jobs.jobs || []).filter(function (j) { return j.id === w.job; })[0] ||
        (last && last.id >= w.job ? last : null);
      if (pending || !mine || (mine.phase !== "done" && mine.phase !== "failed")) return true;
      var unread = (mine.skipped || []).some(function (s) { return s.indexOf(w.name) >= 0; });
      if (mine.phase === "failed") {
        w.li.className = "bad";
        text(w.li, w.label + ": đã tải lên thành “" + w.name + "”, nhưng cập nhật chỉ mục thất bại.");
      } else if (unread) {
        w.li.className = "bad";
        text(w.li, w.label + ": đã tải lên thành “" + w.name + "”, nhưng không đọc được nên không có trong chỉ mục.");
      } else {
        text(w.li, w.label + ": đã tải lên thành “" + w.name + "”, đã có trong chỉ mục.");
      }
      return false;
    });
  }

  function loadDocuments() {
    return api("GET", "documents").then(function (res) {
      if (!res.ok) return;
      var body = $("docs").tBodies[0];
      body.textContent = "";
      var docs = res.data.documents || [];
      text($("doc-count"), docs.filter(function (d) { return d.state !== "removed"; }).length);
      docs.forEach(function (d) {
        var tr = mk("tr");
        tr.setAttribute("data-name", d.name);
        tr.appendChild(mk("td", "name", d.name));
        tr.appendChild(mk("td", null, d.state === "removed" ? "" : size(d.size)));
        tr.appendChild(mk("td", "state-" + d.state, STATES[d.state] || d.state));
        var cell = mk("td");
        if (d.state !== "removed") {
          var del = mk("button", "danger", "Xóa");
          del.type = "button";
          del.setAttribute("aria-label", "Xóa " + d.name);
          del.addEventListener("click", function () { remove(d.name); });
          cell.appendChild(del);
        }
        tr.appendChild(cell);
        body.appendChild(tr);
      });
    });
  }

  function refresh() {
    clearTimeout(pollTimer);
    return api("GET", "status").then(function (res) {
      if (!res.ok) return;
      $("max-mb").textContent = String(Math.round(res.data.limits.max_upload_bytes / 1048576));
      showIndex(res.data.index);
      var busy = showJob(res.data.jobs);
      pollTimer = setTimeout(refresh, busy ? 500 : 4000);
    });
  }

  function note(name, ok, msg) {
    var li = mk("li", ok ? "ok" : "bad", name + ": " + msg);
    $("upload-log").appendChild(li);
    return li;
  }

  function uploadOne(file, overwrite) {
    var q = "documents?name=" + encodeURIComponent(file.name) + (overwrite ? "&overwrite=1" : "");
    return api("POST", q, file, { "Content-Type": "application/octet-stream" }).then(function (res) {
      if (res.status === 409 && !overwrite && res.data.message_vi && res.data.message_vi.indexOf("Đã có") === 0) {
        if (window.confirm(res.data.message_vi + " Thay thế bằng tệp mới?")) return uploadOne(file, true);
        note(file.name, false, "giữ nguyên tài liệu cũ");
        return;
      }
      if (res.ok) {
        var li = note(file.name, true, "đã tải lên thành “" + res.data.name + "”, đang cập nhật chỉ mục…");
        waiting.push({ li: li, label: file.name, name: res.data.name, job: res.data.job });
      }
      else note(file.name, false, res.data.message_vi || ("lỗi " + res.status));
    });
  }

  function upload(e) {
    e.preventDefault();
    var files = Array.prototype.slice.call($("files").files || []);
    if (!files.length) { note("Chưa chọn tệp", false, "hãy chọn ít nhất một tệp"); return; }
    $("upload").disabled = true;
    var chain = Promise.resolve();
    files.forEach(function (f) { chain = chain.then(function () { return uploadOne(f, false); }); });
    chain.then(function () {
      $("upload").disabled = false;
      $("files").value = "";
      refresh();
      loadDocuments();
    });
  }

  function remove(name) {
    if (!window.confirm("Xóa “" + name + "” khỏi kho tài liệu? Tệp được chuyển vào thư mục .removed.")) return;
    api("DELETE", "documents?name=" + encodeURIComponent(name)).then(function (res) {
      if (!res.ok) window.alert(res.data.message_vi || ("Lỗi " + res.status));
      refresh();
      loadDocuments();
    });
  }

  function startJob(kind) {
    api("POST", "jobs", JSON.stringify({ kind: kind }), { "Content-Type": "application/json" }).then(function () {
      refresh();
    });
  }

  function login(e) {
    e.preventDefault();
    sessionStorage.setItem(KEY, $("token").value.trim());
    $("token").value = "";
    api("GET", "status").then(function (res) {
      if (res.ok) { enter(); return; }
      var err = $("login-error");
      err.hidden = false;
      text(err, res.data.message_vi || "Không đăng nhập được.");
    });
  }

  function enter() {
    $("login").hidden = true;
    $("panel").hidden = false;
    $("login-error").hidden = true;
    refresh();
    loadDocuments();
  }

  function logout(msg) {
    sessionStorage.removeItem(KEY);
    clearTimeout(pollTimer);
    $("panel").hidden = true;
    $("login").hidden = false;
    text($("index-status"), "");
    var err = $("login-error");
    err.hidden = !msg;
    text(err, msg || "");
  }

  $("login-form").addEventListener("submit", login);
  $("upload-form").addEventListener("submit", upload);
  $("update").addEventListener("click", function () { startJob("update"); });
  $("rebuild").addEventListener("click", function () { startJob("build"); });
  $("logout").addEventListener("click", function () { logout(""); });
  if (token()) {
    api("GET", "status").then(function (res) { if (res.ok) enter(); });
  }
})();
