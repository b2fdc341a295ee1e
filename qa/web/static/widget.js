/* Hỏi đáp tài liệu: embeddable chat bubble.
 *
 *   <script src="http://HOST:PORT/widget.js" defer></script>
 *
 * Optional attributes on the script tag: data-title="…", data-top-k="5" (1–50; outside that range
 * it is clamped, with a console warning), data-position="left", data-open (the panel starts open).
 * Each question sent fires a "qa-widget-ask" event on the host page's document (the starting page
 * uses it not to reload away from a conversation).
 * The widget lives in a shadow root (the host page's CSS cannot reach it) and calls POST /api/ask
 * on the origin it was loaded from. Server and user text is only ever inserted as text nodes.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src || window.__qaWidget) return;
  window.__qaWidget = true;

  var ORIGIN = new URL(script.src, document.baseURI).origin;
  var TITLE = script.getAttribute("data-title") || "Hỏi đáp tài liệu";
  // the server writes its settings here when it serves this file (qa.web.app): the confidence cut
  // points (qa.web.confidence) and the allowed top_k range
  var CONFIG = /*QA_CONFIG*/null || { confidence: null, top_k: [1, 50] };
  var TOP_K = topK(script.getAttribute("data-top-k"), CONFIG.top_k[0], CONFIG.top_k[1]);
  var LEFT = script.getAttribute("data-position") === "left";
  var OPEN = script.hasAttribute("data-open");
  var NOT_FOUND = "Không tìm thấy thông tin này trong tài liệu.";
  var MAX_TURNS = 8;  // previous questions sent along, so "còn … thì sao?" follows the conversation
  var REFUSED = "Trang web này (" + location.origin + ") chưa được phép dùng khung hỏi đáp này. " +
    "Quản trị viên cần thêm địa chỉ trang vào QA_ALLOWED_ORIGINS của máy chủ hỏi đáp.";
  var OFFLINE = "Không kết nối được máy chủ hỏi đáp.";

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}",
    ".bubble{position:fixed;bottom:20px;" + (LEFT ? "left" : "right") + ":20px;width:56px;height:56px;",
    "border-radius:50%;border:0;background:#d97706;color:#fff;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);",
    "display:flex;align-items:center;justify-content:center;z-index:2147483000}",
    ".bubble:focus-visible{outline:3px solid #0284c7;outline-offset:2px}",
    ".panel{position:fixed;bottom:88px;" + (LEFT ? "left" : "right") + ":20px;width:min(380px,calc(100vw - 24px));",
    "height:min(560px,calc(100vh - 110px));background:#fff;color:#1f2937;border-radius:12px;",
    "box-shadow:0 8px 30px rgba(0,0,0,.28);display:flex;flex-direction:column;overflow:hidden;",
    "font-size:14px;line-height:1.45;z-index:2147483000}",
    ".panel[hidden]{display:none}",
    "header{display:flex;align-items:center;justify-content:space-between;padding:10px 14px;background:#d97706;color:#fff}",
    "header b{font-size:15px}",
    "header button{background:none;border:0;color:#fff;font-size:22px;line-height:1;cursor:pointer}",
    ".log{flex:1;overflow-y:auto;padding:10px 12px;display:flex;flex-direction:column;gap:8px}",
    ".msg{max-width:100%;padding:8px 10px;border-radius:10px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".user{align-self:flex-end;background:#e0f2fe;max-width:85%}",
    ".bot{align-self:stretch;background:#f9fafb;border:1px solid #e5e7eb}",
    ".pending{color:#6b7280;font-style:italic}",
    ".answer-box{border-left:4px solid #d97706;background:#fffbeb;padding:6px 8px;border-radius:6px}",
    ".abstain{border-left:4px solid #9ca3af;background:#f3f4f6;padding:6px 8px;border-radius:6px;color:#374151}",
    ".error{border-left:4px solid #dc2626;background:#fef2f2;padding:6px 8px;border-radius:6px}",
    ".label{font-size:11px;font-weight:700;text-transform:uppercase;letter-spacing:.04em;color:#6b7280}",
    "mark.answer{background:#fef3c7;color:#1f2937;padding:0 1px;border-radius:2px}",
    "mark.phrase{background:#fbbf24;color:#1f2937;font-weight:600;padding:0 2px;border-radius:3px}",
    "mark.term{background:transparent;color:inherit;font-weight:600;text-decoration:underline 2px #0284c7}",
    ".cite{font-size:12px;color:#4b5563;margin-top:4px}",
    ".tentative{border-left-style:dashed;border-left-color:#a8a29e;background:#fafaf9}",
    ".tentative mark.answer{background:#f5f5f4}.tentative mark.phrase{background:#e7e5e4}",
    ".conf{margin-left:8px;text-transform:none;letter-spacing:0;font-weight:500;cursor:help}",
    ".bar{letter-spacing:1px;color:#d97706}.conf-maybe .bar{color:#78716c}",
    ".h{font-weight:700}.h1{font-size:15px}",
    ".cite a,.card a{color:#0369a1}",
    ".srclabel{font-size:12px;font-weight:600;color:#4b5563;margin-top:8px}",
    ".card{border:1px solid #e5e7eb;border-radius:6px;padding:4px 8px;margin-top:4px;background:#fff}",
    ".card summary{cursor:pointer;font-size:12px;color:#374151}",
    ".card .ttl{font-weight:600}",
    ".card .meta{display:block;color:#6b7280;margin-left:14px}",
    ".badge{display:inline-block;font-size:11px;font-weight:600;padding:0 6px;margin-left:4px;border-radius:8px;background:#fef3c7;color:#92400e}",
    ".resolved{font-size:12px;color:#4b5563;margin-bottom:4px}",
    ".refused{border-left:4px solid #9ca3af;background:#f3f4f6;padding:6px 8px;border-radius:6px;color:#374151}",
    ".passage{font-size:13px;margin:4px 0;max-height:180px;overflow-y:auto}",
    "form{display:flex;gap:6px;padding:8px;border-top:1px solid #e5e7eb}",
    "input{flex:1;padding:8px 10px;border:1px solid #d1d5db;border-radius:8px;font-size:14px;color:#111827;background:#fff}",
    "form button{padding:8px 12px;border:0;border-radius:8px;background:#d97706;color:#fff;font-size:14px;cursor:pointer}",
    "form button:disabled{opacity:.6;cursor:default}",
    ".foot{font-size:11px;color:#6b7280;text-align:center;padding:0 8px 6px}",
    ".foot a{color:#6b7280}"
  ].join("\n");

  /* data-top-k as a number in [lo, hi]: a value outside is clamped and one warning names the attribute,
     so the page author learns of it while visitors' questions still work */
  function topK(raw, lo, hi) {
    if (raw == null || raw === "") return Math.min(Math.max(5, lo), hi);
    var n = parseInt(raw, 10), k = isNaN(n) ? 5 : Math.min(Math.max(n, lo), hi);
    if (String(n) !== String(raw).trim() || k !== n) {
      console.warn("[Hỏi đáp tài liệu] widget.js: data-top-k=\"" + raw + "\" is outside " + lo + "–" + hi +
                   " (or not a whole number); using " + k + ".");
    }
    return k;
  }

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = String(text);
    return n;
  }

  function docLink(doc, start, end, ans, question) {
    var u = new URL("/doc", ORIGIN);
    u.searchParams.set("doc", doc);
    u.searchParams.set("start", String(start));
    u.searchParams.set("end", String(end));
    if (ans) {
      u.searchParams.set("a_start", String(ans.start));
      u.searchParams.set("a_end", String(ans.end));
      if (ans.phrase) {
        u.searchParams.set("p_start", String(ans.phrase.start));
        u.searchParams.set("p_end", String(ans.phrase.end));
      }
    }
    if (question) u.searchParams.set("q", question.slice(0, 300));
    u.hash = "qa-focus";
    var a = el("a", null, "Xem trong tài liệu ↗");
    a.href = u.toString();
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  /* Markdown heading lines of `text`: [start, end, level] of each heading's text, and [start, end] of
     the markup (`#`s) that is not shown (the same rule as qa.web.highlight.markdown_headings) */
  function headings(text) {
    var heads = [], hidden = [], re = /^[ \t]*(#{1,6})[ \t]+(\S[^\n]*?)[ \t#]*$/gm, m;
    while ((m = re.exec(text)) !== null) {
      var s = m.index + m[0].indexOf(m[2], m[1].length), e = s + m[2].length;
      heads.push([s, e, m[1].length]);
      hidden.push([m.index, s]);
      if (e < m.index + m[0].length) hidden.push([e, m.index + m[0].length]);
    }
    return { heads: heads, hidden: hidden };
  }

  /* spans split at line breaks and hidden markup, so a term mark never runs across two lines */
  function cut(spans, text, hidden) {
    var out = [];
    spans.forEach(function (sp) {
      var cuts = hidden.filter(function (h) { return h[0] < sp[1] && h[1] > sp[0]; });
      for (var i = sp[0]; i < sp[1]; i++) if (text[i] === "\n") cuts.push([i, i + 1]);
      cuts.sort(function (x, y) { return x[0] - y[0]; });
      var pos = sp[0];
      cuts.concat([[sp[1], sp[1]]]).forEach(function (c) {
        if (c[0] > pos && text.slice(pos, c[0]).trim()) out.push([pos, c[0]]);
        pos = Math.max(pos, c[1]);
      });
    });
    return out;
  }

  /* passage text as DOM: headings as bold lines without their `#`, one <mark class="answer"> per answer
     span with the <mark class="phrase"> and <mark class="term"> inside; highlight offsets are document
     offsets, `base` is the text's start */
  function highlighted(text, base, highlights) {
    var md = headings(text);
    var levels = [{ tag: "span", label: "h", spans: md.heads }].concat(["answer", "phrase", "term"].map(function (label) {
      var spans = (highlights || []).filter(function (h) { return h.label === label; }).map(function (h) {
        return [Math.max(h.start - base, 0), Math.min(h.end - base, text.length)];
      }).filter(function (sp) { return sp[0] < sp[1]; }).sort(function (x, y) { return x[0] - y[0]; });
      return { tag: "mark", label: label, spans: label === "term" ? cut(spans, text, md.hidden) : spans };
    }));
    function shown(parent, a, b) {
      var pos = a;
      md.hidden.forEach(function (h) {
        if (h[0] < b && h[1] > pos) {
          if (h[0] > pos) parent.appendChild(document.createTextNode(text.slice(pos, h[0])));
          pos = Math.min(h[1], b);
        }
      });
      if (b > pos) parent.appendChild(document.createTextNode(text.slice(pos, b)));
    }
    function render(parent, a, b, level) {
      if (a >= b) return;
      if (level === levels.length) { shown(parent, a, b); return; }
      var pos = a, lv = levels[level];
      lv.spans.forEach(function (sp) {
        var s = Math.max(sp[0], a, pos), e = Math.min(sp[1], b);
        if (s >= e) return;
        render(parent, pos, s, level + 1);
        var m = el(lv.tag, lv.label === "h" ? "h h" + sp[2] : lv.label);
        if (lv.label === "h") { m.setAttribute("role", "heading"); m.setAttribute("aria-level", String(sp[2])); }
        render(m, s, e, level + 1);
        parent.appendChild(m);
        pos = e;
      });
      render(parent, pos, b, level + 1);
    }
    var frag = document.createDocumentFragment();
    render(frag, 0, text.length, 0);
    return frag;
  }

  /* the confidence word and bar (cut points from qa.web.confidence); the number only in the tooltip */
  function confidence(ans) {
    var c = CONFIG.confidence;
    if (!c) return null;
    var p = Math.min(Math.max(Number(ans.score) || 0, 0), 1);
    var key = ans.tentative ? "maybe" : p >= c.sure ? "sure" : "likely";
    var bars = key === "sure" ? c.bars : key === "likely" ? c.bars - 1 : 1;
    var span = el("span", "conf conf-" + key);
    span.title = "Xác suất đúng ước tính: " + p.toFixed(2);
    span.appendChild(el("span", "bar", new Array(bars + 1).join("●") + new Array(c.bars - bars + 1).join("○")));
    span.appendChild(document.createTextNode(" " + c.words[key]));
    return span;
  }

  function pos(s, e) { return "ký tự " + s + "–" + e; }

  function renderAnswer(box, data) {
    box.textContent = "";
    var ans = data.answer, q = data.resolved_question || data.question;
    if (data.resolved_question) box.appendChild(el("div", "resolved", "Hiểu là: “" + data.resolved_question + "”"));
    if (ans) {
      var top = el("div", ans.tentative ? "answer-box tentative" : "answer-box");
      var label = el("div", "label", ans.tentative ? (CONFIG.confidence ? CONFIG.confidence.prefix.trim() : "Có thể:")
                                                   : "Trả lời");
      var conf = confidence(ans);
      if (conf) label.appendChild(conf);
      top.appendChild(label);
      var p = el("div");
      var marks = [{ start: ans.start, end: ans.end, label: "answer" }];
      if (ans.phrase) marks.push({ start: ans.phrase.start, end: ans.phrase.end, label: "phrase" });
      p.appendChild(highlighted(ans.text, ans.start, marks));
      top.appendChild(p);
      var cite = el("div", "cite", "Nguồn: " + ans.doc + " · " + pos(ans.start, ans.end) + " · ");
      cite.appendChild(docLink(ans.doc, ans.start, ans.end, ans, q));
      top.appendChild(cite);
      box.appendChild(top);
    } else {
      var ab = el("div", "abstain");
      ab.appendChild(el("div", "label", "Không có câu trả lời"));
      ab.appendChild(el("div", null, NOT_FOUND));
      box.appendChild(ab);
    }
    var ps = data.passages || [];
    if (ps.length) box.appendChild(el("div", "srclabel", ans ? "Nguồn" : "Đoạn gần nhất (độ tin cậy thấp)"));
    ps.forEach(function (p, i) {
      var card = el("details", "card");
      if (i === 0) card.open = true;
      var title = p.title.length > 60 ? p.title.slice(0, 59) + "…" : p.title;
      var inside = ans && ans.doc === p.doc && ans.start < p.end && ans.end > p.start;
      var sum = el("summary");
      sum.appendChild(el("span", "ttl", "[" + (i + 1) + "] " + title));
      if (inside) sum.appendChild(el("span", "badge", "chứa câu trả lời"));
      sum.appendChild(el("span", "meta", p.doc + " · " + pos(p.start, p.end)));
      card.appendChild(sum);
      var body = el("div", "passage");
      body.appendChild(highlighted(p.text, p.start, p.highlights));
      card.appendChild(body);
      card.appendChild(docLink(p.doc, p.start, p.end, inside ? ans : null, q));
      box.appendChild(card);
    });
  }

  function build() {
    var host = document.createElement("div");
    host.setAttribute("data-qa-widget", "");
    host.style.cssText = "all:initial;position:fixed;z-index:2147483000;width:0;height:0;bottom:0;right:0";
    var root = host.attachShadow({ mode: "open" });
    root.appendChild(el("style", null, CSS));

    var bubble = el("button", "bubble");
    bubble.type = "button";
    bubble.setAttribute("aria-label", TITLE);
    bubble.title = TITLE;
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "28");
    svg.setAttribute("height", "28");
    var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    svg.appendChild(path);
    bubble.appendChild(svg);

    var panel = el("div", "panel");
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", TITLE);
    var head = el("header");
    head.appendChild(el("b", null, TITLE));
    var close = el("button", null, "×");
    close.type = "button";
    close.setAttribute("aria-label", "Đóng");
    head.appendChild(close);
    var log = el("div", "log");
    log.setAttribute("aria-live", "polite");
    log.appendChild(el("div", "msg bot", "Xin chào! Hãy đặt câu hỏi về nội dung tài liệu."));
    var form = el("form");
    var input = el("input");
    input.type = "text";
    input.maxLength = 1000;
    input.placeholder = "Nhập câu hỏi…";
    input.setAttribute("aria-label", "Câu hỏi");
    var send = el("button", null, "Gửi");
    send.type = "submit";
    form.appendChild(input);
    form.appendChild(send);
    var foot = el("div", "foot");
    var full = el("a", null, "Mở giao diện đầy đủ ↗");
    full.href = ORIGIN + "/";
    full.target = "_blank";
    full.rel = "noopener noreferrer";
    foot.appendChild(full);
    panel.appendChild(head);
    panel.appendChild(log);
    panel.appendChild(form);
    panel.appendChild(foot);
    root.appendChild(panel);
    root.appendChild(bubble);

    function toggle(open) {
      panel.hidden = !open;
      bubble.setAttribute("aria-expanded", String(open));
      if (open) input.focus(); else bubble.focus();
    }
    bubble.addEventListener("click", function () { toggle(panel.hidden); });
    close.addEventListener("click", function () { toggle(false); });
    panel.addEventListener("keydown", function (e) { if (e.key === "Escape") toggle(false); });

    var asked = [];  // this conversation's answered questions, oldest first
    var refused = false;

    /* a failed fetch is either a server that cannot be reached or one that refuses this page's origin
       (CORS); a no-cors request reaches a live server whatever the origin, so it tells them apart */
    function reachable() {
      return fetch(ORIGIN + "/healthz", { mode: "no-cors", cache: "no-store" }).then(
        function () { return true; }, function () { return false; });
    }

    function showRefused() {
      refused = true;
      input.disabled = true;
      send.disabled = true;
      input.placeholder = "Trang này chưa được phép dùng khung hỏi đáp";
      log.textContent = "";
      log.appendChild(el("div", "msg bot refused", REFUSED));
    }

    // find out early whether this page may use the chat at all
    fetch(ORIGIN + "/healthz", { cache: "no-store" }).then(null, function () {
      return reachable().then(function (up) { if (up) showRefused(); });
    });

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var q = input.value;
      if (!q.trim() || send.disabled || refused) return;
      log.appendChild(el("div", "msg user", q));
      document.dispatchEvent(new CustomEvent("qa-widget-ask", { detail: { question: q } }));
      var box = el("div", "msg bot pending", "Đang tìm trong tài liệu…");
      log.appendChild(box);
      log.scrollTop = log.scrollHeight;
      input.value = "";
      send.disabled = true;
      fetch(ORIGIN + "/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ question: q, top_k: TOP_K, history: asked.slice(-MAX_TURNS) })
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) { return { ok: r.ok, data: data }; });
      }).then(function (res) {
        box.classList.remove("pending");
        if (res.ok) {
          renderAnswer(box, res.data);
          asked.push(q.trim());
          if (asked.length > MAX_TURNS) asked.shift();
        } else {
          box.textContent = "";
          box.appendChild(el("div", "error", res.data.message_vi || "Máy chủ không trả lời được câu hỏi này."));
        }
      }).catch(function () {
        return reachable().then(function (up) {
          box.classList.remove("pending");
          box.textContent = "";
          if (up) { box.remove(); showRefused(); } else box.appendChild(el("div", "error", OFFLINE));
        });
      }).then(function () {
        if (refused) return;
        send.disabled = false;
        log.scrollTop = Math.max(0, box.offsetTop - log.offsetTop - 8);
        input.focus();
      });
    });
    document.body.appendChild(host);
    if (OPEN) toggle(true);
  }

  if (document.body) build();
  else document.addEventListener("DOMContentLoaded", build);
})();
