"""The operator page at /admin: upload, list and remove documents, update or rebuild the index.

Off unless `QA_ADMIN_TOKEN` is set (every /admin path is then a 404). The page itself holds no
data; everything goes through /admin/api/*, which wants `Authorization: Bearer <token>` (compared in
constant time; repeated wrong tokens from one client get 429). Uploads are checked before they
land: the name is reduced to a plain file name of a supported type, the size is capped
(`QA_ADMIN_MAX_UPLOAD_MB`), a .docx is opened as a zip and refused when it would inflate past a
sane size, and the file must read as a document; only then is it moved into the docs folder.
A removed document is moved to `<docs>/.removed/`, never deleted. Every change starts an index
update in the background (qa.live.IndexJobs); a failed one leaves the served index as it was.

    add_admin(app, service, token="…", max_upload=20 << 20)
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from qa.atomic import file_sha256
from qa.errors import DocumentError
from qa.ingest.documents import SUPPORTED, find_documents, read_document
from qa.live import IndexJobs
from qa.web.adminpage import admin_page
from qa.web.ratelimit import RateLimiter
from qa.web.security import TooLarge, log_rejected, read_body

if TYPE_CHECKING:
    from qa.service import QAService

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("qa.web.admin")
ADMIN_CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
             "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
REMOVED = ".removed"  # hidden: never indexed
MAX_NAME = 120
# a .docx is a zip: refuse one that would inflate past this, or by more than this ratio (a zip bomb)
MAX_UNZIPPED = 200 << 20
MAX_RATIO = 150
MAX_ENTRIES = 5000
_UNSAFE = re.compile(r"[^\w .,()+\-]")
_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))})
ROUTES: dict[str, tuple[str, ...]] = {
    "/admin": ("GET",), "/admin/": ("GET",), "/admin/admin.js": ("GET",), "/admin/api/status": ("GET",),
    "/admin/api/documents": ("GET", "POST", "DELETE"), "/admin/api/jobs": ("POST",),
}


class AdminError(Exception):
    """A refused operator request: HTTP status, English detail, Vietnamese message for the page."""

    def __init__(self, status: int, message: str, message_vi: str) -> None:
        super().__init__(message)
        self.status, self.message_vi = status, message_vi

    def response(self) -> JSONResponse:
        return JSONResponse({"error": str(self), "message_vi": self.message_vi}, status_code=self.status)


def safe_name(raw: object) -> str:
    """A plain file name for an upload: the last path component, NFC, no control or odd characters,
    not hidden, at most MAX_NAME characters, of a supported type. AdminError when nothing usable is left.

    >>> safe_name("../../etc/Báo cáo<2019>.TXT")
    'Báo cáo_2019_.txt'
    >>> safe_name("..\\\\..\\\\windows\\\\win.ini")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    qa.web.admin.AdminError: unsupported file type .ini; ...
    """
    if not isinstance(raw, str) or not raw.strip():
        raise AdminError(400, "give the file name as ?name=", "Thiếu tên tệp.")
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").split("/")[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = " ".join(_UNSAFE.sub("_", name).split()).lstrip(". -")
    stem, dot, suffix = name.rpartition(".")
    suffix = "." + suffix.lower() if dot else ""
    if suffix not in SUPPORTED:
        raise AdminError(415, f"unsupported file type {suffix or '(none)'}; use one of {', '.join(SUPPORTED)}",
                         f"Định dạng {suffix or '(không có đuôi)'} không được hỗ trợ; hãy dùng "
                         f"{', '.join(SUPPORTED)}.")
    stem = stem.strip(" .")[: MAX_NAME - len(suffix)].rstrip(" .")
    if not stem:
        raise AdminError(400, "the file name has no usable characters", "Tên tệp không hợp lệ.")
    if stem.lower().split(".")[0] in _RESERVED:
        stem = "_" + stem
    return stem + suffix


def _inside(docs: Path, rel: str) -> Path:
    """docs/rel for an existing document named by its id; AdminError for anything else."""
    parts = PurePosixPath(rel).parts if isinstance(rel, str) else ()
    if not parts or rel != "/".join(parts) or "\\" in rel or any(p in ("", ".", "..") or p.startswith(".")
                                                                  for p in parts):
        raise AdminError(400, f"not a document name: {rel!r}", "Tên tài liệu không hợp lệ.")
    root = docs.resolve()
    path = docs / Path(*parts)
    try:
        path.parent.resolve().relative_to(root)
    except ValueError:
        raise AdminError(400, f"{rel!r} is outside the docs folder", "Tên tài liệu không hợp lệ.") from None
    if not path.is_file() or path.suffix.lower() not in SUPPORTED:
        raise AdminError(404, f"no document {rel!r}", "Không tìm thấy tài liệu này.")
    return path


def check_zip(data: bytes, name: str) -> None:
    """A .docx must be a zip that inflates to a sane size (no zip bomb)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise AdminError(400, f"{name}: not a valid .docx (zip): {e}",
                         "Tệp .docx bị hỏng hoặc không phải .docx; hãy lưu lại tệp.") from None
    total = sum(i.file_size for i in infos)
    ratio = max((i.file_size / max(1, i.compress_size) for i in infos), default=0)
    if len(infos) > MAX_ENTRIES or total > MAX_UNZIPPED or ratio > MAX_RATIO:
        raise AdminError(400, f"{name}: the .docx would inflate to {total} bytes (ratio {ratio:.0f}); refused",
                         "Tệp .docx này giải nén ra quá lớn (nghi là zip bomb); đã từ chối.")


class Admin:
    """Routes and state of the operator page for one service."""

    def __init__(self, service: QAService, token: str, max_upload: int) -> None:
        self.service = service
        self._digest = hashlib.sha256(token.encode("utf-8")).digest()
        self.max_upload = max_upload
        self.jobs = IndexJobs(service)
        self.failures = RateLimiter(rate_per_minute=10, burst=10, exempt_loopback=False)
        self._hashes: dict[tuple[str, int, int], str] = {}

    @property
    def docs(self) -> Path:
        return self.service.settings.docs_dir

    def authorized(self, request: Request) -> None:
        client = request.client.host if request.client else "unknown"
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            hashlib.sha256(value.strip().encode("utf-8")).digest(), self._digest)
        if ok:
            return
        allowed, wait = self.failures.allow(client)
        if not allowed:
            raise AdminError(429, f"too many wrong tokens; retry after {max(1, round(wait))} s",
                             "Nhập sai mã quá nhiều lần; vui lòng thử lại sau ít phút.")
        raise AdminError(401, "missing or wrong admin token (Authorization: Bearer QA_ADMIN_TOKEN)",
                         "Mã quản trị không đúng.")

    # --- documents -----------------------------------------------------------------------------

    def _sha(self, path: Path) -> str:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in self._hashes:
            if len(self._hashes) > 10_000:
                self._hashes.clear()
            self._hashes[key] = file_sha256(path)
        return self._hashes[key]

    def documents(self) -> list[dict[str, Any]]:
        """Files in the docs folder with their state against the served index, then served ones gone from disk."""
        m = self.service.data.manifest
        out: list[dict[str, Any]] = []
        seen = set()
        for p in find_documents(self.docs) if self.docs.is_dir() else []:
            rel = p.relative_to(self.docs).as_posix()
            seen.add(rel)
            try:
                st, sha = p.stat(), self._sha(p)
            except OSError:
                continue
            entry = m.documents.get(rel)
            if entry is not None:
                state = "indexed" if entry.sha256 == sha else "changed"
            else:
                state = "unreadable" if m.skipped.get(rel) == sha else "new"
            out.append({"name": rel, "size": st.st_size, "state": state,
                        "modified": datetime.fromtimestamp(st.st_mtime, timezone.utc).isoformat(timespec="seconds"),
                        "chunks": entry.chunks if entry is not None and state == "indexed" else 0})
        out += [{"name": d, "size": 0, "state": "removed", "modified": "", "chunks": 0}
                for d in sorted(m.documents) if d not in seen]
        return out

    def save_upload(self, name: str, data: bytes, overwrite: bool) -> str:
        """Check and store one upload; returns its name in the docs folder."""
        if not data:
            raise AdminError(400, f"{name}: the file is empty", "Tệp rỗng.")
        if name.endswith(".docx"):
            check_zip(data, name)
        if name.endswith(".pdf") and not data.lstrip()[:5] == b"%PDF-":
            raise AdminError(400, f"{name}: not a PDF", "Tệp này không phải PDF.")
        docs = self.docs
        if not docs.is_dir():
            raise AdminError(409, f"the docs folder {docs} does not exist", "Thư mục tài liệu không tồn tại.")
        final = docs / name
        if final.parent.resolve() != docs.resolve():  # belt and braces: safe_name allows no separator
            raise AdminError(400, f"{name!r} is not a plain file name", "Tên tệp không hợp lệ.")
        if (final.exists() or final.is_symlink()) and not overwrite:
            raise AdminError(409, f"{name} already exists; remove it first or send overwrite=1",
                             f"Đã có tài liệu tên “{name}”.")
        # written and read inside a hidden folder of the docs folder (never indexed), then moved in
        tmp = Path(tempfile.mkdtemp(prefix=".upload-", dir=docs))
        try:
            staged = tmp / name
            staged.write_bytes(data)
            try:
                read_document(staged, tmp)
            except DocumentError as e:
                raise AdminError(400, str(e).replace(str(tmp) + "/", ""),
                                 "Không đọc được tài liệu này (tệp hỏng, rỗng, có mật khẩu hoặc sai định dạng)."
                                 ) from None
            if final.is_symlink():
                final.unlink()
            os.replace(staged, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return name

    def remove(self, rel: str) -> str:
        """Move a document to <docs>/.removed/ (kept, never indexed); returns where it went."""
        path = _inside(self.docs, rel)
        trash = self.docs / REMOVED
        trash.mkdir(exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        dest = trash / f"{stamp}-{rel.replace('/', '__')}"
        n = 1
        while dest.exists():
            n += 1
            dest = trash / f"{stamp}-{n}-{rel.replace('/', '__')}"
        os.replace(path, dest)
        return dest.relative_to(self.docs).as_posix()

    def status(self) -> dict[str, Any]:
        return {"index": self.service.status(), "jobs": self.jobs.state(),
                "limits": {"max_upload_bytes": self.max_upload, "formats": list(SUPPORTED)}}


def add_admin(app: FastAPI, service: QAService, token: str, max_upload: int) -> Admin:
    """Add /admin and /admin/api/* to `app` (call before Gradio is mounted at /)."""
    admin = Admin(service, token, max_upload)
    script = (STATIC / "admin.js").read_bytes()
    page = admin_page()
    page_headers = {"Content-Security-Policy": ADMIN_CSP, "Cache-Control": "no-store", "X-Frame-Options": "DENY"}

    async def guarded(request: Request, fn: Any) -> Response:
        try:
            admin.authorized(request)
            return await fn()
        except AdminError as e:
            log_rejected(log, f"{request.method} {request.url.path}", e.status, e)
            resp = e.response()
            if e.status == 401:
                resp.headers["WWW-Authenticate"] = "Bearer"
            resp.headers["Cache-Control"] = "no-store"
            return resp

    @app.get("/admin")
    async def admin_redirect() -> Response:
        return RedirectResponse("admin/", status_code=307)  # relative: works under a mount prefix

    @app.get("/admin/")
    async def admin_html() -> Response:
        return HTMLResponse(page, headers=page_headers)

    @app.get("/admin/admin.js")
    async def admin_js() -> Response:
        return Response(script, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "no-store"})

    @app.get("/admin/api/status")
    async def status(request: Request) -> Response:
        async def run() -> Response:
            return JSONResponse(admin.status(), headers={"Cache-Control": "no-store"})
        return await guarded(request, run)

    @app.get("/admin/api/documents")
    async def list_documents(request: Request) -> Response:
        async def run() -> Response:
            docs = await run_in_threadpool(admin.documents)
            return JSONResponse({"documents": docs}, headers={"Cache-Control": "no-store"})
        return await guarded(request, run)

    @app.post("/admin/api/documents")
    async def upload(request: Request) -> Response:
        async def run() -> Response:
            name = safe_name(request.query_params.get("name"))
            try:
                data = await read_body(request, admin.max_upload)
            except TooLarge:
                mb = admin.max_upload / (1 << 20)
                raise AdminError(413, f"file over {mb:g} MiB (QA_ADMIN_MAX_UPLOAD_MB)",
                                 f"Tệp quá lớn (tối đa {mb:g} MB).") from None
            overwrite = request.query_params.get("overwrite") in ("1", "true")
            saved = await run_in_threadpool(admin.save_upload, name, data, overwrite)
            job = admin.jobs.submit("update")
            return JSONResponse({"name": saved, "job": job.id}, status_code=201)
        return await guarded(request, run)

    @app.delete("/admin/api/documents")
    async def remove(request: Request) -> Response:
        async def run() -> Response:
            moved = await run_in_threadpool(admin.remove, request.query_params.get("name", ""))
            job = admin.jobs.submit("update")
            return JSONResponse({"removed": request.query_params.get("name"), "moved_to": moved, "job": job.id})
        return await guarded(request, run)

    @app.post("/admin/api/jobs")
    async def start_job(request: Request) -> Response:
        async def run() -> Response:
            try:
                body = json.loads(await read_body(request, 1024) or b"{}")
            except (TooLarge, ValueError, UnicodeDecodeError):
                body = None
            kind = body.get("kind") if isinstance(body, dict) else None
            if kind not in ("update", "build"):
                raise AdminError(400, 'body must be {"kind": "update"} or {"kind": "build"}',
                                 "Yêu cầu không hợp lệ.")
            job = admin.jobs.submit(kind)
            return JSONResponse({"job": job.id}, status_code=202)
        return await guarded(request, run)

    return admin
