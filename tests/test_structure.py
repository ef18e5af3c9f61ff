"""The structure the README's Layout promises, drawn from the code's own imports: arrows point one
way (no circle, no arrow back up) and every function and module stays readable in one sitting."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("embeddings", "rag", "app", "eval")
# Within rag/: a module may import its own level or lower ones, never a higher one.
RAG_LEVELS = {"rag.__init__": 0, "rag.errors": 0, "rag.hashing": 0, "rag.paths": 0, "rag.settings": 0, "rag.records": 0,
              "rag.query": 0, "rag.control_tokens": 0, "rag.ingest": 1, "rag.index": 2, "rag.generate": 2, "rag.answer": 3, "rag.render": 3, "rag.library": 3,
              "rag.assemble": 4, "rag.assistant": 4, "rag.serving": 5, "rag.cli": 6, "rag.__main__": 7}
MAX_FUNCTION_LINES, MAX_MODULE_LINES = 60, 400


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the project's modules it imports (at any depth of the file: lazy imports count)."""
    known, graph = modules(), {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                wanted = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                subs = [f"{base}.{alias.name}" for alias in node.names]
                wanted = [s for s in subs if s in known] or [base]
            else:
                continue
            for target in wanted:
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while not group or group[-1] != v:
                group.append(stack.pop())
                on_stack.discard(group[-1])
            if len(group) > 1:
                found.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def rag_level(name: str) -> int | None:
    """The level of a rag module: its own entry or its nearest package's; None for a module the
    table does not place (the bare package `rag` is its `__init__`, placed at 0 by name)."""
    if name == "rag":
        name = "rag.__init__"
    parts = name.split(".")
    return next((RAG_LEVELS[".".join(parts[:i])] for i in range(len(parts), 1, -1) if ".".join(parts[:i]) in RAG_LEVELS),
                None)


def test_there_is_no_import_circle():
    assert circles(import_graph()) == []


def test_arrows_point_one_way():
    graph = import_graph()
    back = []
    for source, targets in graph.items():
        top = source.split(".")[0]
        for target in targets:
            to = target.split(".")[0]
            if top == "embeddings" and to != "embeddings":
                back.append((source, target))
            elif top == "rag" and (to in ("app", "eval") or (to == "rag" and rag_level(target) > rag_level(source))):
                back.append((source, target))
            elif target.startswith("eval.experiments") and not source.startswith("eval.experiments"):
                back.append((source, target))  # studies are leaves: nothing in the tools depends on one
            elif top in ("app", "eval") and to in ("app", "eval") and to != top:
                back.append((source, target))
    assert back == []


# The door (issue 43.3): what the front ends may import of rag/. Asking and searching go through
# rag.assistant, indexing and listings through rag.library, opening them through rag.assemble
# (rag.serving over Ray Serve); the rest are records, settings and how an answer is shown.
DOOR = {"rag.assistant", "rag.library", "rag.assemble", "rag.serving", "rag.settings", "rag.errors", "rag.query",
        "rag.records", "rag.render", "rag.paths"}
FRONT_ENDS = ("app", "rag.cli", "rag.__main__", "eval.runner", "eval.cli")


def below_the_door(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(front end, rag module) for each import of a front end that is not the door."""
    return sorted((source, target) for source, targets in graph.items()
                  if source == "app" or source.startswith(FRONT_ENDS)
                  for target in targets if target.split(".")[0] == "rag" and target not in DOOR | {"rag.cli", "rag"})


def test_the_front_ends_go_through_the_door():
    assert below_the_door(import_graph()) == []


def test_the_door_check_sees_a_front_end_reach_behind_it():
    graph = import_graph()
    graph["app.handlers"] = graph["app.handlers"] | {"rag.index.store"}
    assert below_the_door(graph) == [("app.handlers", "rag.index.store")]


# The lab (studies, benches, trainers) goes through eval.lab and the product's own door modules; a
# module reaches below them only for the subject it trains or times, named here.
LAB_DOOR = {"eval.lab", "rag.library", "rag.assistant", "rag.settings", "rag.errors", "rag.records"}
LAB_SUBJECTS = {
    "eval.bench.answers": {"rag.generate.model_files", "rag.index.dense", "rag.index.lexical"},  # a large index built in parts
    "eval.bench.scale": {"rag.index.dense", "rag.index.engines", "rag.index.lexical", "rag.index.ray_engine"},
    "eval.bench.serve": {"rag.serving"},
    "eval.calibrate.crossdomain": {"rag.answer.decision"},  # the fitted decision it tabulates
    "eval.calibrate.fit_answerability": {"rag.answer.decision"},
    "eval.calibrate.fit_collection": {"rag.answer.decision"},
    "eval.calibrate.injection_check": {"rag.answer.injection"},
    "eval.calibrate.reader_check": {"rag.answer.reader"},
    "eval.calibrate.states": {"rag.generate.transformers_lm"},  # the hidden states the heads read
    "eval.calibrate.train_heads": {"rag.answer.decision", "rag.answer.heads"},
    "eval.calibrate.train_injection": {"rag.answer.injection", "rag.answer.injection_model"},
    "eval.calibrate.train_reader": {"rag.answer.reader"},
    "eval.experiments.validate_support": {"rag.answer.grounding"},
}


def below_the_lab_door(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(lab module, rag module) for each import of a study that is neither the lab's door nor its subject."""
    return sorted((source, target) for source, targets in graph.items()
                  if source.startswith("eval.") and source != "eval.lab" and not source.startswith(FRONT_ENDS)
                  for target in targets
                  if target.split(".")[0] == "rag" and target not in LAB_DOOR | LAB_SUBJECTS.get(source, set()))


def test_the_lab_goes_through_its_own_door():
    graph = import_graph()
    assert below_the_lab_door(graph) == []
    assert {name for name in LAB_SUBJECTS if name not in graph} == set()  # no stale entries


def test_the_lab_door_check_sees_a_study_reach_behind_it():
    graph = import_graph()
    graph["eval.experiments.financebench"] = graph["eval.experiments.financebench"] | {"rag.index.store"}
    assert below_the_lab_door(graph) == [("eval.experiments.financebench", "rag.index.store")]


def test_every_rag_module_has_a_level():
    assert all(rag_level(name) is not None for name in modules() if name.startswith("rag"))


def test_functions_and_modules_stay_readable():
    long_functions, long_modules = [], []
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES and not name.startswith("eval.experiments"):
            long_modules.append((name, len(text.splitlines())))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    long_functions.append((f"{name}.{node.name}", node.end_lineno - node.lineno + 1))
    assert long_modules == [] and long_functions == []


def test_the_checks_see_a_circle_and_a_long_function():
    """The checks above can fail: a made-up circle is found, and the graph holds known arrows
    (lazy imports inside functions among them)."""
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = import_graph()
    assert "rag.answer.decision" in graph["rag.answer.pipeline"] and "rag.assistant" in graph["app.handlers"]
    assert rag_level("rag.answer.pipeline") > rag_level("rag.index.retrieval") > rag_level("rag.ingest.readers")
    assert rag_level("rag.newstage.module") is None and rag_level("rag") == 0  # a module the table misses is caught


# The question's parsers: read once, in rag/answer/question.py, into the `Question` every stage reads.
QUESTION_PARSERS = {"asked", "formula_of", "core_question", "is_trend_question", "trend_granularity", "trend_metric",
                    "is_value_question", "row_query", "expected_answer_type", "answer_kind", "asks_arithmetic", "asked_item", "names_line_item", "asks_what_was", "asked_metric", "defines",
                    "asks_beyond_definition"}


def parser_calls(path: Path) -> list[tuple[str, int]]:
    """The calls in a file to a question parser, by name (`x(…)` or `module.x(…)`), with their lines."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in QUESTION_PARSERS:
                found.append((name, node.lineno))
    return found


def test_the_question_is_parsed_once():
    """Outside question.py, no product module (rag/, app/, app.py) calls a question parser; the one
    exception is `cells.best_rows` reading a metric phrase it is given, which is not the question."""
    allowed = {("rag.answer.cells", "core_question")}
    paths = {name: path for name, path in modules().items() if name.startswith(("rag", "app"))}
    paths["app_main"] = ROOT / "app.py"
    reparsed = [(name, call, line) for name, path in paths.items() for call, line in parser_calls(path)
                if name != "rag.answer.question" and (name, call) not in allowed]
    assert reparsed == []
    assert {call for call, _ in parser_calls(ROOT / "rag/answer/question.py")} == QUESTION_PARSERS  # the check sees real calls
