#!/usr/bin/env python
"""Mutation testing of Lifeboat's pure modules: do the tests notice when the code is wrong?

    .venv/bin/python bench/mutation.py [--module backups/retention/planner.py ...] [--only N ...] [--jobs 2]
    .venv/bin/python bench/mutation.py --list [--module ...]

Each mutant is one small change to one module (an operator, a comparison, `and`/`or`, a dropped `not`, a constant,
a `return` of None), made in memory: the source files are never edited, so an interrupted run leaves nothing
behind. Not mutated: docstrings, the text of f-strings, raised exceptions' messages and log calls.

How a mutant is tested: first the module's test files run once unmutated under coverage (they must pass); a
mutant on a line they never execute is a survivor without a run. A mutant inside a function body is tested in a
pytest session shared with many others: the function's code object is swapped for the mutated one (every importer
holds that same function object), the collected tests run until the first failure, the original code goes back,
and a last unmutated run checks nothing was left behind. A mutant evaluated at import time (a module constant, a
default, a class attribute) gets a process of its own whose import hook loads the mutated module. A run that
hangs counts as caught. Survivors are printed with their line.

A measurement, not part of CI: `make mutation`. The score is recorded in README.md.
"""

from __future__ import annotations

import argparse
import ast
import importlib.abc
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_MUTANT = "LIFEBOAT_MUTANT"  # "<path relative to ROOT>:<mutant index>", read by the import hook below
ENV_JOB = "LIFEBOAT_MUTATION_JOB"  # a JSON file naming many mutants to test in one session (see below)


@dataclass(frozen=True)
class Target:
    path: str  # the module's file, relative to the project root
    tests: tuple[str, ...]  # the test files that pin it, fastest killers first


# The modules under mutation and the tests that pin each: edit this list when a module or a test moves.
TARGETS = [
    Target("backups/retention/planner.py", (
        "tests/test_retention_rules_and_reasons.py",
        "tests/test_retention_monthly_copies.py",
        "tests/test_retention_planner.py",
    )),
    Target("backups/storage/bucket_policy.py", (
        "tests/test_bucket_policy_rules.py",
        "tests/test_bucket_policy.py",
    )),
    Target("backups/catalog/manifest.py", (
        "tests/test_manifest_format.py",
    )),
    Target("audit/chain.py", (
        "tests/test_audit_chain_head_and_anchor.py",
        "tests/test_audit_chain_detects_tampering.py",
    )),
    Target("audit/anchor.py", (
        "tests/test_audit_chain_head_and_anchor.py",
        "tests/test_audit_chain_detects_tampering.py",
    )),
]

PYTEST = ["-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "mutation"]
# Plugins a mutant's run does without: hypothesis's pytest plugin alone costs seconds of start-up per run (its
# @given tests still run), xdist and coverage are not used there.
LEAN = ["-p", "no:hypothesispytest", "-p", "no:xdist", "-p", "no:xdist.looponfail", "-p", "no:pytest_cov"]


# --- making mutants ----------------------------------------------------------------------------------------------

SWAP_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult,
              ast.Mod: ast.Mult}
SWAP_CMP = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
            ast.GtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
SWAP_BOOL = {ast.And: ast.Or, ast.Or: ast.And}
QUIET_CALLS = {"debug", "info", "warning", "error", "exception"}  # log.<level>(...): messages, not behaviour


class Mutator(ast.NodeTransformer):
    """Walks a module in a fixed order, numbering every possible mutation; applies the one numbered `target`."""

    def __init__(self, target: int | None = None) -> None:
        self.target = target
        # (line, its statement's first line, description, qualified name of the function whose body holds it)
        self.found: list[tuple[int, int, str, str]] = []
        self._statement = 0
        self._scope: list[str] = []  # class and function names down to here
        self._owner = ""  # the outermost function whose body is being visited ("" outside any body)

    def visit(self, node: ast.AST) -> ast.AST:
        if not isinstance(node, ast.stmt):
            return super().visit(node)
        outer, self._statement = self._statement, node.lineno
        try:
            return super().visit(node)
        finally:
            self._statement = outer

    def _offer(self, node: ast.AST, description: str) -> bool:
        self.found.append((getattr(node, "lineno", 0), self._statement, description, self._owner))
        return len(self.found) - 1 == self.target

    # what is never mutated
    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return node  # the text and values of f-strings are messages

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        node.annotation = node.annotation  # annotations are not code
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.args = self.visit(node.args)  # defaults are mutated; annotations and decorators are not
        self._scope.append(node.name)
        outer = self._owner
        self._owner = outer or ".".join(self._scope)
        self._visit_body(node)
        self._owner = outer
        self._scope.pop()
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self._scope.append(node.name)
        self._visit_body(node)
        self._scope.pop()
        return node

    def visit_Module(self, node: ast.Module) -> ast.AST:
        self._visit_body(node)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        return node

    def _visit_body(self, node) -> None:
        """Visit the statements of a module, class or function, all but its docstring."""
        body = node.body
        docstring = bool(body) and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str)
        node.body = body[:1] * docstring + [self.visit(stmt) for stmt in body[docstring:]]

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if isinstance(node.func, ast.Attribute) and node.func.attr in QUIET_CALLS \
                and isinstance(node.func.value, ast.Name) and node.func.value.id in {"log", "logger", "logging"}:
            return node
        return self.generic_visit(node)

    # what is mutated
    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        swap = SWAP_BINOP.get(type(node.op))
        if swap and self._offer(node, f"{type(node.op).__name__} -> {swap.__name__}"):
            node.op = swap()
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        swap = SWAP_BINOP.get(type(node.op))
        if swap and self._offer(node, f"{type(node.op).__name__}= -> {swap.__name__}="):
            node.op = swap()
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for i, op in enumerate(node.ops):
            swap = SWAP_CMP[type(op)]
            if self._offer(node, f"{type(op).__name__} -> {swap.__name__}"):
                node.ops[i] = swap()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        swap = SWAP_BOOL[type(node.op)]
        if self._offer(node, f"{type(node.op).__name__} -> {swap.__name__}"):
            node.op = swap()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._offer(node, "not x -> x"):
            return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            if self._offer(node, f"{value} -> {not value}"):
                node.value = not value
        elif isinstance(value, int | float):
            if self._offer(node, f"{value!r} -> {value + 1!r}"):
                node.value = value + 1
        elif isinstance(value, str):
            if self._offer(node, f"{_short(value)} -> 'XX{_short(value)[1:-1]}XX'"):
                node.value = f"XX{value}XX"
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        self.generic_visit(node)
        if node.value is None or (isinstance(node.value, ast.Constant) and node.value.value is None):
            return node
        if self._offer(node, "return ... -> return None"):
            node.value = ast.Constant(None)
        return node


def _short(text: str) -> str:
    return repr(text if len(text) <= 30 else text[:27] + "...")


def mutant_code(path: Path, index: int | None):
    mutator = Mutator(index)
    tree = ast.fix_missing_locations(mutator.visit(ast.parse(path.read_text(), str(path))))
    return compile(tree, str(path), "exec"), mutator.found


def module_name(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


# --- the import hook (this file is also the pytest plugin `-p mutation`) -------------------------------------------

class _MutantLoader(importlib.abc.Loader):
    def __init__(self, path: Path, index: int) -> None:
        self.path, self.index = path, index

    def exec_module(self, module) -> None:
        code, _ = mutant_code(self.path, self.index)
        exec(code, module.__dict__)


class _MutantFinder(importlib.abc.MetaPathFinder):
    def __init__(self, name: str, path: Path, index: int) -> None:
        self.name, self.path, self.index = name, path, index

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path, loader=_MutantLoader(self.path, self.index))


if os.environ.get(ENV_MUTANT):
    _rel, _index = os.environ[ENV_MUTANT].rsplit(":", 1)
    sys.meta_path.insert(0, _MutantFinder(module_name(_rel), ROOT / _rel, int(_index)))


# --- many mutants in one pytest session (the plugin's other mode) -------------------------------------------------
# A mutant inside a function body needs no new process: the function's code object is swapped for the mutated one
# (every importer holds the same function object, so all of them run the mutant), the collected tests run until the
# first failure, and the original code goes back. Mutants outside function bodies (constants, defaults, class
# attributes) are evaluated at import time and get a process of their own.

class _Hang(Exception):
    pass


def _code_named(code, qualname: str):
    for const in code.co_consts:
        if hasattr(const, "co_qualname"):
            if const.co_qualname == qualname:
                return const
            found = _code_named(const, qualname)
            if found is not None:
                return found
    return None


def _live_function(module, qualname: str):
    owner, *names = qualname.split(".")
    value = getattr(module, owner)
    for name in names:
        value = vars(value)[name]
    if isinstance(value, property):
        value = value.fget
    return getattr(value, "__func__", value)


def _tests_pass(session, timeout: int) -> bool:
    import signal

    from _pytest.runner import runtestprotocol

    items = session.items

    def hang(signum, frame):
        raise _Hang(f"still running after {timeout} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(timeout)
    try:
        for i, item in enumerate(items):
            following = items[i + 1] if i + 1 < len(items) else items[0]
            reports = runtestprotocol(item, nextitem=following, log=False)
            if any(report.failed for report in reports):
                session._setupstate.teardown_exact(items[0])
                return False
        return True
    except _Hang:
        session._setupstate.teardown_exact(items[0])
        return False
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def pytest_runtestloop(session):
    """With LIFEBOAT_MUTATION_JOB set: test the listed mutants one after another; write {index: outcome}."""
    job_file = os.environ.get(ENV_JOB)
    if not job_file:
        return None
    job = json.loads(Path(job_file).read_text())
    path = ROOT / job["path"]
    module = importlib.import_module(module_name(job["path"]))
    results: dict[int, str] = {}
    for index in job["mutants"]:
        code, found = mutant_code(path, index)
        qualname = found[index][3]
        new = _code_named(code, qualname)
        try:
            function = _live_function(module, qualname)
            original = function.__code__
            function.__code__ = new
        except (AttributeError, KeyError, TypeError, ValueError):
            results[index] = "separately"  # e.g. a change of free variables: the driver runs it in its own process
            continue
        try:
            results[index] = "survived" if _tests_pass(session, job["timeout"]) else "killed"
        finally:
            function.__code__ = original
        Path(job["out"]).write_text(json.dumps(results))
    if not _tests_pass(session, job["timeout"]):  # a mutant left something behind: trust none of this session
        results = {}
    Path(job["out"]).write_text(json.dumps(results))
    return True


# --- the driver --------------------------------------------------------------------------------------------------

def _pytest(target: Target, env: dict[str, str], extra: list[str], timeout: float) -> tuple[bool, float]:
    """Run the target's tests; True when they pass. A run that hangs counts as failing (the mutant is caught)."""
    start = time.monotonic()
    try:
        result = subprocess.run([sys.executable, "-m", "pytest", *PYTEST, *extra, *target.tests], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout)
        passed = result.returncode == 0
    except subprocess.TimeoutExpired:
        passed = False
    return passed, time.monotonic() - start


def _env(mutant: str | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "bench"), os.environ.get(
        "PYTHONPATH")]))}
    env.pop(ENV_MUTANT, None)
    if mutant:
        env[ENV_MUTANT] = mutant
    return env


def _baseline(target: Target) -> tuple[set[int] | None, float]:
    """Run the tests once unmutated (they must pass); the lines of the module they execute, and how long it took.
    Lines are None when coverage is not installed: then every mutant runs."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "coverage.json"
        cov = [f"--cov={module_name(target.path)}", "--cov-branch", f"--cov-report=json:{report}"]
        passed, seconds = _pytest(target, _env(), cov if importlib.util.find_spec("pytest_cov") else [], timeout=900)
        if not passed:
            raise SystemExit(f"{target.path}: its tests fail without any mutant; fix them first")
        if not report.exists():
            return None, seconds
        files = json.loads(report.read_text())["files"]
    entry = next((v for k, v in files.items() if k.endswith(target.path)), None)
    return (set(entry["executed_lines"]) if entry else None), seconds


def _in_one_session(target: Target, mutants: list[int], timeout: int) -> dict[int, str]:
    """Test many mutants in one pytest session (pytest_runtestloop above); {index: killed|survived|separately}."""
    if not mutants:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        job, out = Path(tmp) / "job.json", Path(tmp) / "out.json"
        job.write_text(json.dumps({"path": target.path, "mutants": mutants, "out": str(out), "timeout": timeout}))
        env = _env()
        env[ENV_JOB] = str(job)
        _pytest(target, env, LEAN, timeout=timeout * len(mutants) + 600)
        results = {int(k): v for k, v in json.loads(out.read_text()).items()} if out.exists() else {}
    # a session that died part-way leaves the rest to separate processes
    return {i: results.get(i, "separately") for i in mutants}


def run_target(target: Target, only: set[int] | None, jobs: int = 1) -> tuple[int, int, list[str]]:
    path = ROOT / target.path
    _, found = mutant_code(path, None)
    covered, baseline = _baseline(target)
    timeout = int(baseline * 3 + 30)
    lines = path.read_text().splitlines()
    chosen = [i for i in range(len(found)) if only is None or i in only]
    outcome: dict[int, str] = {}
    for i in chosen:
        if covered is not None and found[i][1] not in covered:
            outcome[i] = "never executed by the tests"
    inside = [i for i in chosen if i not in outcome and found[i][3]]
    shares = [inside[n::jobs] for n in range(jobs)]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for results in pool.map(lambda share: _in_one_session(target, share, timeout), shares):
            outcome.update(results)
    print(f"{target.path}: {len(inside)} mutants inside functions tested in {jobs} session(s)", flush=True)

    def separately(index: int) -> str:
        alive, _ = _pytest(target, _env(f"{target.path}:{index}"), LEAN, timeout=timeout)
        return "survived" if alive else "killed"

    rest = [i for i in chosen if outcome.get(i, "separately") == "separately"]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for index, result in zip(rest, pool.map(separately, rest), strict=True):
            outcome[index] = result
    print(f"{target.path}: {len(rest)} mutants tested in a process each", flush=True)

    killed, survivors = 0, []
    for index in chosen:
        line, _, description, _ = found[index]
        if outcome[index] == "killed":
            killed += 1
            continue
        how = "the tests still pass" if outcome[index] == "survived" else outcome[index]
        source = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        survivors.append(f"  #{index} {target.path}:{line}: {description} ({how})\n      {source}")
    return killed, len(chosen), survivors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--module", action="append", help="only these modules (paths as in TARGETS)")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--only", type=int, action="append", help="only these mutant numbers")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested side by side (default 1)")
    args = parser.parse_args()
    targets = [t for t in TARGETS if not args.module or t.path in args.module]
    if args.list:
        for target in targets:
            for index, (line, _, description, owner) in enumerate(mutant_code(ROOT / target.path, None)[1]):
                print(f"#{index} {target.path}:{line}: {description}" + (f" (in {owner})" if owner else ""))
        return 0
    results = []
    for target in targets:
        results.append((target, *run_target(target, set(args.only) if args.only else None, args.jobs)))
    print("\nMutation score")
    all_killed = all_total = 0
    for target, killed, total, _ in results:
        all_killed, all_total = all_killed + killed, all_total + total
        print(f"  {target.path}: {killed}/{total} killed ({100 * killed / max(total, 1):.0f}%)")
    print(f"  all: {all_killed}/{all_total} killed ({100 * all_killed / max(all_total, 1):.1f}%)")
    for target, _, _, survivors in results:
        if survivors:
            print(f"\nSurvivors in {target.path}:")
            print("\n".join(survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
