"""The operator page (qa.web.admin): off without a token, every action behind it, hostile uploads refused."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.config import Settings, WebSettings
from qa.index.build import build_index
from qa.service import QAService, manifest_signature
from qa.startup import open_service
from qa.web.admin import MAX_UNZIPPED
from qa.web.app import create_app
from qa.web.ratelimit import RateLimiter
from tests.conftest import SMALL_CORPUS, FakeEncoder

TOKEN = "s3cret-token-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEW_DOC = "Vịnh Hạ Long có gần 2000 hòn đảo lớn nhỏ. Vịnh được UNESCO công nhận là di sản thiên nhiên thế giới."
NEW_Q = "Vịnh Hạ Long có bao nhiêu hòn đảo?"


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Any]:
    """A docs folder inside a bigger tree (so escaping it would be visible), an index, a service."""
    root = tmp_path / "srv"
    docs = root / "data" / "docs"
    docs.mkdir(parents=True)
    for name, text in SMALL_CORPUS.items():
        (docs / name).write_text(text, encoding="utf-8")
    index = root / "data" / "index"
    enc = FakeEncoder()
    build_index(docs, index, enc)
    settings = Settings(docs_dir=docs, index_dir=index, auto_build="never",
                        web=WebSettings(admin_token=TOKEN, reload_interval=0))
    svc = open_service(settings, encoder=enc, log=lambda m: None, progress=False)
    return {"root": root, "docs": docs, "index": index, "svc": svc}


@pytest.fixture
def client(site: dict[str, Any]) -> Any:
    with TestClient(create_app(site["svc"], rate_limiter=RateLimiter(0), max_upload_mb=1)) as c:
        yield c


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def wait_jobs(client: TestClient) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        st = client.get("/admin/api/status", headers=AUTH).json()
        if st["jobs"]["running"] is None and st["jobs"]["queued"] is None:
            return st
        time.sleep(0.05)
    raise AssertionError("index job did not finish")


def upload(client: TestClient, name: str, data: bytes, **params: str) -> Any:
    return client.post("/admin/api/documents", params={"name": name, **params}, content=data, headers=AUTH)


def docx_bytes(text: str) -> bytes:
    import docx

    d = docx.Document()
    d.add_paragraph(text)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


# --- off unless configured; every action behind the token ----------------------------------------

def test_admin_is_off_without_a_token(site: dict[str, Any]) -> None:
    svc: QAService = site["svc"]
    with TestClient(create_app(svc, rate_limiter=RateLimiter(0), admin_token="")) as c:
        for method, path in [("GET", "/admin"), ("GET", "/admin/"), ("GET", "/admin/admin.js"),
                             ("GET", "/admin/api/status"), ("POST", "/admin/api/documents?name=a.txt"),
                             ("DELETE", "/admin/api/documents?name=hue.txt"), ("POST", "/admin/api/jobs")]:
            r = c.request(method, path, headers=AUTH, content=b"x")
            assert r.status_code in (404, 405) and "Quản trị" not in r.text, (method, path)
    assert (site["docs"] / "hue.txt").exists()


def test_the_token_must_be_long(monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.errors import ConfigError

    with pytest.raises(ConfigError, match="QA_ADMIN_TOKEN is too short") as e:
        Settings.from_env({"QA_ADMIN_TOKEN": "hunter2"})
    assert "hunter2" not in str(e.value)  # the secret is never echoed
    assert Settings.from_env({"QA_ADMIN_TOKEN": TOKEN}).web.admin_token == TOKEN
    assert TOKEN not in repr(Settings.from_env({"QA_ADMIN_TOKEN": TOKEN}))


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": TOKEN}, {"Authorization": "Bearer"}, {"Authorization": "Bearer wrong"},
    {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Bearer {TOKEN[:-1]}"},
    {"Authorization": f"Bearer {TOKEN}x"}, {"X-Admin-Token": TOKEN}, {"Cookie": f"token={TOKEN}"},
])
def test_every_action_needs_the_token(client: TestClient, site: dict[str, Any], headers: dict[str, str]) -> None:
    before = tree(site["root"])
    calls = [("GET", "/admin/api/status", None), ("GET", "/admin/api/documents", None),
             ("POST", "/admin/api/documents?name=x.txt", b"hello world, a document."),
             ("DELETE", "/admin/api/documents?name=hue.txt", None),
             ("POST", "/admin/api/jobs", json.dumps({"kind": "build"}).encode()),
             ("GET", f"/admin/api/status?token={TOKEN}", None)]
    for method, path, body in calls:
        r = client.request(method, path, content=body, headers=headers)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.json()["message_vi"] == "Mã quản trị không đúng." and r.headers["www-authenticate"] == "Bearer"
    assert tree(site["root"]) == before and site["svc"].reloads == 0


def test_repeated_wrong_tokens_are_throttled(client: TestClient) -> None:
    codes = [client.get("/admin/api/status", headers={"Authorization": "Bearer nope"}).status_code
             for _ in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    assert client.get("/admin/api/status", headers=AUTH).status_code == 200  # the right token still works


def test_the_page_has_a_strict_policy_and_no_data(client: TestClient) -> None:
    r = client.get("/admin", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "admin/"
    page = client.get("/admin/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in \
        csp.split("style-src")[0]
    assert "hue.txt" not in page.text and '<script src="admin.js" defer></script>' in page.text
    js = client.get("/admin/admin.js")
    assert js.status_code == 200 and "innerHTML" not in js.text and "sessionStorage" in js.text
    assert client.get("/admin/api/jobs", headers=AUTH).status_code == 405


# --- uploads ------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,stored", [
    ("../../evil.txt", "evil.txt"), ("..%2F..%2Fevil.txt", "_2F.._2Fevil.txt"), ("/etc/cron.d/evil.txt", "evil.txt"),
    ("C:\\Windows\\evil.txt", "evil.txt"), (".hidden.txt", "hidden.txt"), ("a\x00b\x1b.txt", "ab.txt"),
    ("<script>alert(1)</script>.md", "script_.md"), ("CON.txt", "_CON.txt"),
    ("Báo cáo tổng kết.TXT", "Báo cáo tổng kết.txt"), ("x" * 300 + ".txt", "x" * 116 + ".txt"),
])
def test_upload_names_are_sanitized_and_stay_in_the_docs_folder(client: TestClient, site: dict[str, Any],
                                                               raw: str, stored: str) -> None:
    before = tree(site["root"])
    r = upload(client, raw, NEW_DOC.encode())
    assert r.status_code == 201 and r.json()["name"] == stored
    wait_jobs(client)
    added = tree(site["root"]) - before
    assert added == {f"data/docs/{stored}"}  # nothing anywhere else, no leftovers


@pytest.mark.parametrize("name,status", [("malware.exe", 415), ("script.py", 415), ("noext", 415), ("...", 415),
                                         (".txt", 415), ("", 400), ("   ", 400)])
def test_unsupported_or_empty_names_are_refused(client: TestClient, site: dict[str, Any], name: str,
                                                status: int) -> None:
    before = tree(site["root"])
    r = upload(client, name, b"data data data")
    assert r.status_code == status and r.json()["message_vi"]
    assert tree(site["root"]) == before


def test_oversized_uploads_are_413_with_or_without_a_length(client: TestClient, site: dict[str, Any]) -> None:
    before = tree(site["root"])
    big = b"a" * ((1 << 20) + 1)
    r = upload(client, "big.txt", big)
    assert r.status_code == 413 and r.json()["message_vi"] == "Tệp quá lớn (tối đa 1 MB)."
    streamed = client.post("/admin/api/documents", params={"name": "big.txt"}, headers=AUTH,
                           content=iter([big[:1000], big[1000:]]))
    assert streamed.status_code == 413
    lying = client.post("/admin/api/documents", params={"name": "big.txt"}, content=big,
                        headers={**AUTH, "Content-Length": "10"})
    assert lying.status_code in (400, 413)
    assert tree(site["root"]) == before


def test_a_zip_bomb_docx_is_refused_unopened(client: TestClient, site: dict[str, Any]) -> None:
    before = tree(site["root"])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"\0" * (MAX_UNZIPPED + 1))  # ~200 MB of zeros: ~200 KB zipped
    data = buf.getvalue()
    assert len(data) < (1 << 20)
    r = upload(client, "bomb.docx", data)
    assert r.status_code == 400 and "zip bomb" in r.json()["message_vi"]
    ratio = io.BytesIO()
    with zipfile.ZipFile(ratio, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"<w>" + b"a" * (5 << 20) + b"</w>")  # 5 MB at a ratio of ~1000
    assert upload(client, "ratio.docx", ratio.getvalue()).status_code == 400
    assert tree(site["root"]) == before


@pytest.mark.parametrize("name,data", [
    ("broken.docx", b"PK\x03\x04 not really a zip"), ("fake.pdf", b"MZ\x90\x00 an executable"),
    ("empty.txt", b""), ("blank.txt", b"   \n\n  "), ("latin1.txt", "Hà Nội".encode("cp1258", "replace") + b"\xff"),
    ("broken.pdf", b"%PDF-1.4 truncated"),
])
def test_files_that_do_not_read_as_documents_are_refused(client: TestClient, site: dict[str, Any], name: str,
                                                         data: bytes) -> None:
    before = tree(site["root"])
    r = upload(client, name, data)
    assert r.status_code == 400 and r.json()["message_vi"]
    assert str(site["docs"]) not in r.json()["error"]  # no server paths leak
    assert tree(site["root"]) == before


def test_upload_then_the_service_answers_from_it_without_restart(client: TestClient, site: dict[str, Any]) -> None:
    svc: QAService = site["svc"]
    assert "halong.docx" not in {p.doc for p in svc.ask(NEW_Q).passages}
    r = upload(client, "halong.docx", docx_bytes(NEW_DOC))
    assert r.status_code == 201 and r.json() == {"name": "halong.docx", "job": r.json()["job"]}
    st = wait_jobs(client)
    assert st["jobs"]["last"]["phase"] == "done" and st["index"]["documents"] == 4
    assert svc.ask(NEW_Q).passages[0].doc == "halong.docx"
    docs = client.get("/admin/api/documents", headers=AUTH).json()["documents"]
    assert {d["name"]: d["state"] for d in docs}["halong.docx"] == "indexed"
    # the same name again: refused unless asked to replace
    again = upload(client, "halong.docx", docx_bytes(NEW_DOC + " Thêm một câu."))
    assert again.status_code == 409 and again.json()["message_vi"].startswith("Đã có tài liệu")
    assert upload(client, "halong.docx", docx_bytes(NEW_DOC + " Thêm một câu."), overwrite="1").status_code == 201
    wait_jobs(client)
    assert "Thêm một câu." in svc.document("halong.docx").text  # type: ignore[union-attr]


# --- removal ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,status", [
    ("../index/manifest.json", 400), ("/etc/passwd", 400), ("..", 400), (".removed/x.txt", 400),
    ("sub/../../x.txt", 400), ("nope.txt", 404), ("", 400), ("hue.txt/", 400), ("C:\\hue.txt", 400),
])
def test_removal_refuses_anything_but_a_listed_document(client: TestClient, site: dict[str, Any], name: str,
                                                        status: int) -> None:
    (site["root"] / "data" / "secret.txt").write_text("do not touch", encoding="utf-8")
    before = tree(site["root"])
    r = client.delete("/admin/api/documents", params={"name": name}, headers=AUTH)
    assert r.status_code == status, r.text
    assert tree(site["root"]) == before


def test_removed_documents_are_kept_aside_and_leave_the_index(client: TestClient, site: dict[str, Any]) -> None:
    svc: QAService = site["svc"]
    assert svc.ask("Sông Hương chảy qua thành phố nào?").answer is not None
    r = client.delete("/admin/api/documents", params={"name": "hue.txt"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["moved_to"].startswith(".removed/")
    kept = site["docs"] / r.json()["moved_to"]
    assert kept.read_text(encoding="utf-8") == SMALL_CORPUS["hue.txt"] and not (site["docs"] / "hue.txt").exists()
    st = wait_jobs(client)
    assert st["index"]["documents"] == 2 and "hue.txt" not in svc.data.documents
    assert "hue.txt" not in {p.doc for p in svc.ask("Sông Hương chảy qua thành phố nào?").passages}


def test_jobs_endpoint_and_a_failed_build_keeps_serving(client: TestClient, site: dict[str, Any]) -> None:
    svc: QAService = site["svc"]
    for body in (b"", b"{", b'{"kind": "drop"}', b"[1]", b"x" * 5000):
        assert client.post("/admin/api/jobs", content=body, headers=AUTH).status_code == 400
    before, sig = svc.ask("Thủ đô của Việt Nam là gì?").to_dict(), manifest_signature(site["index"])
    for p in site["docs"].glob("*.*"):
        p.unlink()  # someone emptied the folder: a rebuild must fail, not serve nothing
    assert client.post("/admin/api/jobs", json={"kind": "build"}, headers=AUTH).status_code == 202
    st = wait_jobs(client)
    assert st["jobs"]["last"]["phase"] == "failed" and "no supported documents" in st["jobs"]["last"]["error"]
    assert svc.ask("Thủ đô của Việt Nam là gì?").to_dict() == before
    assert manifest_signature(site["index"]) == sig and st["index"]["documents"] == 3
