"""Follow-up questions resolved against the previous turn (qa.search.followup), and through the service."""

from __future__ import annotations

from typing import Any

import pytest

from qa.errors import InputError
from qa.search.followup import ellipsis_focus, resolve
from qa.service import QAService

ANSWER = "Đồng chí Lê Văn Thành, Ủy viên Trung ương Đảng, Bí thư Thành ủy, Chủ tịch HĐND thành phố chủ trì hội nghị."


@pytest.mark.parametrize("history,question,expected,kind", [
    (["Bí thư Thành ủy là ai?"], "còn phó bí thư thì sao?", "Phó bí thư Thành ủy là ai?", "ellipsis"),
    (["Bí thư Thành ủy là ai?"], "Thế còn phó bí thư?", "Phó bí thư Thành ủy là ai?", "ellipsis"),
    (["bi thu thanh uy la ai"], "con pho bi thu thi sao", "Pho bi thu thanh uy la ai", "ellipsis"),
    (["Thu ngân sách năm 2016 đạt bao nhiêu?"], "còn năm 2017 thì sao?", "Thu ngân sách năm 2017 đạt bao nhiêu?",
     "ellipsis"),
    (["Thu ngân sách năm 2016 đạt bao nhiêu?"], "Năm 2017 thì sao?", "Thu ngân sách năm 2017 đạt bao nhiêu?",
     "ellipsis"),
    (["Nghị quyết số 21-NQ/TƯ về vấn đề gì?"], "còn nghị quyết số 20 thì sao?",
     "Nghị quyết số 20-NQ/TƯ về vấn đề gì?", "ellipsis"),
    (["Chủ tịch UBND thành phố là ai?"], "Còn HĐND thì sao?", "Chủ tịch HĐND thành phố là ai?", "ellipsis"),
    (["Giai đoạn 1 giảm bao nhiêu đơn vị sự nghiệp?"], "còn giai đoạn 2 thì sao",
     "Giai đoạn 2 giảm bao nhiêu đơn vị sự nghiệp?", "ellipsis"),
    (["Who is the secretary of the city party committee?"], "What about the vice secretary?",
     "Who is the vice secretary of the city party committee?", "ellipsis"),
    (["Nguyễn Văn Tùng giữ chức vụ gì?"], "ông ấy trình bày chương trình nào?",
     "Nguyễn Văn Tùng trình bày chương trình nào?", "person"),
    (["Năm 2016 tổng thu ngân sách đạt bao nhiêu?"], "năm đó thu nội địa đạt bao nhiêu?",
     "Năm 2016 thu nội địa đạt bao nhiêu?", "year"),
    (["Ai trình bày chương trình thực hiện Nghị quyết số 20?"], "nghị quyết đó về vấn đề gì?",
     "Nghị quyết số 20 về vấn đề gì?", "thing"),
])
def test_follow_ups_become_stand_alone(history: list[str], question: str, expected: str, kind: str) -> None:
    r = resolve(question, history)
    assert (r.question, r.kind, r.previous) == (expected, kind, history[-1])


def test_a_person_named_only_by_the_previous_answer() -> None:
    asked: list[str] = []

    def answer_of(q: str) -> str:
        asked.append(q)
        return ANSWER

    r = resolve("ông ấy giữ chức vụ gì?", ["Ai chủ trì hội nghị?"], answer_of)
    assert r.question == "Lê Văn Thành giữ chức vụ gì?" and asked == ["Ai chủ trì hội nghị?"]
    # the previous question names the person itself: its answer is not needed
    asked.clear()
    assert resolve("bà ấy là ai?", ["Nguyễn Thị Nghĩa trình bày gì?"], answer_of).question == "Nguyễn Thị Nghĩa là ai?"
    assert asked == []


def test_chains_resolve_turn_by_turn() -> None:
    history = ["Ai chủ trì hội nghị?", "ông ấy giữ chức vụ gì?"]
    r = resolve("còn Nguyễn Văn Tùng thì sao?", history, lambda q: ANSWER)
    assert r.question == "Nguyễn Văn Tùng giữ chức vụ gì?" and r.previous == "Lê Văn Thành giữ chức vụ gì?"


@pytest.mark.parametrize("question", [
    "Hội nghị có bao nhiêu đại biểu?",  # stands alone
    "Còn bao nhiêu việc cần làm ngay?",  # 'còn' as a verb, with its own question word
    "Ai là Bí thư Thành ủy?",
    "ông ấy giữ chức vụ gì?",  # nobody to refer to: left as asked (the answerer will abstain)
    "năm đó thu ngân sách là bao nhiêu?",  # no year before
    "Kế hoạch thực hiện phải mang tính toàn diện thì sao, có đúng không?",
])
def test_stand_alone_questions_pass_through(question: str) -> None:
    r = resolve(question, ["Hội nghị được tổ chức ở đâu?"])
    assert r.question == question and not r.followup and r.kind == "standalone"


def test_no_history_no_change() -> None:
    assert resolve("còn phó bí thư thì sao?", []).question == "còn phó bí thư thì sao?"
    assert resolve("còn phó bí thư thì sao?", ["", "  "]).followup is False


def test_ellipsis_focus_shapes() -> None:
    assert ellipsis_focus("Còn Hải Phòng thì thế nào?") == "Hải Phòng"
    assert ellipsis_focus("how about 2018?") == "2018"
    assert ellipsis_focus("Hà Nội thì sao?") == "Hà Nội"
    assert ellipsis_focus("Hà Nội là thủ đô") is None
    assert ellipsis_focus("còn ai nữa?") is None


# --- through the service ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def seed_svc(tmp_path_factory: pytest.TempPathFactory) -> QAService:
    from tests.conftest import seed_service

    return seed_service(tmp_path_factory.mktemp("followup"))


def test_service_answers_the_resolved_question(seed_svc: QAService) -> None:
    plain = seed_svc.ask("Phó bí thư Thành ủy là ai?")
    follow = seed_svc.ask("còn phó bí thư thì sao?", history=["Bí thư Thành ủy là ai?"])
    assert follow.question == "còn phó bí thư thì sao?" and follow.resolved == "Phó bí thư Thành ủy là ai?"
    d = follow.to_dict()
    assert d["resolved_question"] == "Phó bí thư Thành ủy là ai?" and list(d)[:2] == ["question", "resolved_question"]
    assert d["answer"] == plain.to_dict()["answer"] and d["passages"] == plain.to_dict()["passages"]


def test_service_without_a_follow_up_is_unchanged(seed_svc: QAService) -> None:
    q = "Hội nghị có bao nhiêu đại biểu?"
    assert seed_svc.ask(q, history=["Bí thư Thành ủy là ai?"]).to_dict() == seed_svc.ask(q).to_dict()
    assert "resolved_question" not in seed_svc.ask(q).to_dict()


@pytest.mark.parametrize("history", ["Bí thư Thành ủy là ai?", {"q": 1}, [1, 2], ["x" * 1001], ["q"] * 21])
def test_bad_history_is_an_input_error(seed_svc: QAService, history: Any) -> None:
    with pytest.raises(InputError) as e:
        seed_svc.ask("còn phó bí thư thì sao?", history=history)
    assert "history" in str(e.value) and "history" in e.value.message_vi
