"""The operator page's HTML: a static shell that /admin/admin.js fills over /admin/api/* (text only).

>>> "Tải tài liệu lên" in admin_page()
True
"""

from __future__ import annotations

ADMIN_TITLE = "Quản trị tài liệu"
_ADMIN_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:60rem;margin:0 auto;
 padding:1rem 1.25rem 4rem;line-height:1.5;color:#1f2937;background:#fff}
h1{font-size:1.3rem;margin:.2rem 0}h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
section{border-top:1px solid #e5e7eb}
button{padding:6px 12px;border:1px solid #d1d5db;border-radius:6px;background:#f9fafb;color:#111827;
 font-size:.95rem;cursor:pointer}
button.primary{background:#d97706;border-color:#d97706;color:#fff}
button.danger{color:#b91c1c}
button:disabled{opacity:.55;cursor:default}
input[type=password]{padding:6px 8px;border:1px solid #d1d5db;border-radius:6px;font-size:.95rem;width:18rem;
 max-width:100%}
progress{width:min(28rem,100%);height:1rem;vertical-align:middle}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #f3f4f6;vertical-align:top}
td.name{word-break:break-all}
.state-indexed{color:#047857}.state-new,.state-changed,.state-removed{color:#b45309}
.state-unreadable{color:#b91c1c}
.qa-meta{font-size:.88em;color:#4b5563}
.qa-error{padding:8px 12px;border-radius:6px;border-left:4px solid #dc2626;background:rgba(220,38,38,.08)}
.ok{color:#047857}.bad{color:#b91c1c}
#upload-log{padding-left:1.2rem;font-size:.92rem}
pre{white-space:pre-wrap;font-size:.85rem;background:#f9fafb;padding:8px;border-radius:6px}
"""


def admin_page() -> str:
    """The operator page's HTML: a static shell; /admin/admin.js fills it over /admin/api/* (text only)."""
    formats = " ".join(".txt .md .html .pdf .docx".split())
    body = f"""
<header><h1>{ADMIN_TITLE}</h1><div id="index-status" class="qa-meta" aria-live="polite"></div></header>
<section id="login">
  <h2>Đăng nhập</h2>
  <form id="login-form" autocomplete="off">
    <label>Mã quản trị (QA_ADMIN_TOKEN)
      <input type="password" id="token" autocomplete="current-password" required></label>
    <button type="submit" class="primary">Đăng nhập</button>
  </form>
  <p id="login-error" class="qa-error" hidden></p>
</section>
<main id="panel" hidden>
  <section>
    <h2>Tải tài liệu lên</h2>
    <form id="upload-form">
      <input type="file" id="files" multiple accept=".txt,.md,.html,.htm,.pdf,.docx">
      <button type="submit" id="upload" class="primary">Tải lên</button>
    </form>
    <p class="qa-meta">Định dạng: {formats} · tối đa <span id="max-mb">?</span> MB mỗi tệp. Sau mỗi lần tải lên
      hoặc xóa, chỉ mục được cập nhật tự động; trang hỏi đáp dùng chỉ mục mới ngay khi xong, không cần
      khởi động lại.</p>
    <ul id="upload-log" aria-live="polite"></ul>
  </section>
  <section>
    <h2>Chỉ mục</h2>
    <p><button type="button" id="update">Cập nhật chỉ mục</button>
       <button type="button" id="rebuild">Tạo lại toàn bộ</button></p>
    <div id="job"><progress id="job-bar" max="1" value="0"></progress> <span id="job-text">Chưa có tác vụ.</span></div>
    <details id="job-detail" hidden><summary>Chi tiết</summary><pre id="job-error"></pre></details>
  </section>
  <section>
    <h2>Tài liệu (<span id="doc-count">0</span>)</h2>
    <table id="docs"><thead><tr><th>Tên</th><th>Kích thước</th><th>Trạng thái</th><th></th></tr></thead>
    <tbody></tbody></table>
    <p class="qa-meta">Tài liệu bị xóa được chuyển vào thư mục <code>.removed</code> trong thư mục tài liệu,
      không mất.</p>
  </section>
  <p><button type="button" id="logout">Đăng xuất</button> · <a href="../">Về trang hỏi đáp</a></p>
</main>
<script src="admin.js" defer></script>"""
    return (f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer">'
            f"<title>{ADMIN_TITLE}</title><style>{_ADMIN_CSS}</style></head><body>{body}</body></html>")
