"""Where a guide's figures come from: the publish's commit (said once), each file's runs and
CPU pinning, and whether the code a benchmark measures has changed since its file was run.
Reads result dicts and asks git for names of changed files; measures nothing."""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

# What every benchmark's server runs: a change here changes any figure.
SERVER_PATHS = (
    "showcase/pure/",
    "showcase/runtime/",
    "showcase/web/",
    "showcase/tools/launcher.py",
)
# The instruments every benchmark reads its figures with (environment.py only records).
TOOL_PATHS = ("benchmarks/infra/harness.py", "benchmarks/infra/procfs.py")
MEASURE = "benchmarks/infra/measure.py"
# The code each benchmark measures, beyond its own module (benchmarks/<name>.py): the server,
# the load clients and references it drives, the infra it measures through.
MEASURED_PATHS: dict[str, tuple[str, ...]] = {
    "latency": ("benchmarks/load/wire.py", "benchmarks/load/ws.py", "benchmarks/load/poll.py")
    + (MEASURE,),
    "throughput": ("benchmarks/load/wire.py", MEASURE),
    "held_streams": ("benchmarks/load/", "benchmarks/reference/bare_wsgi.py", MEASURE)
    + ("benchmarks/infra/capacity.py", "benchmarks/floor.py"),
    "download": ("benchmarks/infra/nginx.py",),
    "relay": ("showcase/chat/", "benchmarks/load/tokens.py", "benchmarks/infra/chain.py")
    + ("benchmarks/reference/bare_relay.py",),
    "hub": ("showcase/hub/", "benchmarks/load/hub_client.py", "benchmarks/load/wire.py")
    + ("benchmarks/infra/hub_redis.py", "benchmarks/floor.py"),
    "deploy": ("showcase/tools/proxy/", "benchmarks/load/deploy_reader.py"),
    "disconnect": ("benchmarks/infra/deploy_netns.py", "benchmarks/infra/deploy_probe.py"),
    "restart": ("benchmarks/load/deploy_clients.py",),
    "answers": ("showcase/answers/", "showcase/chat/", "showcase/hub/redis_broker.py")
    + ("benchmarks/load/answer_reader.py", "benchmarks/load/answer_trials.py")
    + ("benchmarks/load/tokens.py", "benchmarks/infra/answer_lanes.py"),
    "framing": ("benchmarks/load/wire.py",),
    "idle_memory": (),  # the server alone, and its own module
}
# Benchmarks whose client counts are the runs' sum (their times are still medians).
COUNTS_SUMMED = frozenset({"restart"})
NAMED_AT_MOST = 6  # changed files named in a line; the rest are counted
ChangedFiles = Callable[[str, Sequence[str]], "list[str] | None"]


def plural(count: int, word: str, words: str | None = None) -> str:
    """``3 runs``, ``1 run``: the count with its noun agreeing."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def short_commit(doc: Mapping[str, Any]) -> tuple[str, bool]:
    """The file's commit (12 hex digits, or '–') and whether its tree had local changes."""
    git = doc.get("environment", {}).get("git") or {}
    return str(git.get("commit") or "–")[:12], bool(git.get("dirty"))


def runs_of(doc: Mapping[str, Any]) -> int | None:
    """How many runs the file's figures are medians of: the runs it holds, else its config's."""
    runs = doc.get("runs")
    if isinstance(runs, list) and runs:
        return len(runs)
    configured = doc.get("config", {}).get("runs")
    return int(configured) if isinstance(configured, int) else None


def runs_phrase(doc: Mapping[str, Any]) -> str:
    """'medians of 3 runs', 'one run'; for a benchmark that adds its runs' counts up,
    'medians of 2 runs, counts summed'."""
    count = runs_of(doc)
    if count is None:
        return "runs not recorded"
    if count == 1:
        return "one run"
    summed = ", counts summed" if doc.get("benchmark") in COUNTS_SUMMED else ""
    return f"medians of {plural(count, 'run')}{summed}"


def pinning_of(doc: Mapping[str, Any]) -> str:
    """Which processes ran on which CPU, as the file records it."""
    server = doc.get("server", {})
    cpu, client = server.get("server_cpu"), server.get("client_cpu")
    if cpu is None:
        return "not pinned"
    load = f", load on CPU {client}" if client is not None else ""
    return f"server on CPU {cpu}{load}"


def publish_commit(found: Mapping[str, Mapping[str, Any]]) -> str:
    """One sentence: the commit the results were measured at, or how the files disagree."""
    if not found:
        return "no results yet"
    commits = {name: short_commit(doc) for name, doc in found.items()}
    common, _ = Counter(commits.values()).most_common(1)[0]
    odd = [name for name, commit in commits.items() if commit != common]
    text = f"commit `{common[0]}`" + (" with local changes" if common[1] else "")
    if not odd:
        return f"every file at {text}"
    others = "; ".join(
        f"{name} at `{commits[name][0]}`" + (" with local changes" if commits[name][1] else "")
        for name in odd
    )
    return f"{plural(len(found) - len(odd), 'file')} at {text}; the files disagree: {others}"


def changed_since(commit: str, paths: Sequence[str], root: Path) -> list[str] | None:
    """Files under ``paths`` that differ between ``commit`` and HEAD (committed history
    only, so the answer is the same for anyone at that HEAD); None when git cannot tell."""
    try:
        done = subprocess.run(
            # Documentation beside the code (READMEs) moves no figure.
            ["git", "diff", "--name-only", commit, "HEAD", "--", *paths, ":(exclude)*.md"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return sorted(line for line in done.stdout.splitlines() if line)


def measured_paths(name: str) -> tuple[str, ...]:
    """Every path whose change can move the figures of benchmark ``name``."""
    return (*SERVER_PATHS, *TOOL_PATHS, *MEASURED_PATHS.get(name, ()), f"benchmarks/{name}.py")


def stale_line(name: str, doc: Mapping[str, Any], changed: ChangedFiles) -> str:
    """The line beside a table when the code its benchmark measures changed since the file's
    commit ('' when nothing did)."""
    git = doc.get("environment", {}).get("git") or {}
    commit = git.get("commit")
    if not commit:
        return ""
    paths = measured_paths(name)
    files = changed(str(commit), paths)
    if files is None:
        return f"_Could not compare commit `{str(commit)[:12]}` with this checkout's code._"
    if not files:
        return ""
    # The server's own files first: they are the likelier cause of a changed figure.
    files = sorted(files, key=lambda path: (not path.startswith("showcase/"), path))
    named = ", ".join(f"`{path}`" for path in files[:NAMED_AT_MOST])
    more = len(files) - NAMED_AT_MOST
    rest = f" and {plural(more, 'more file')}" if more > 0 else ""
    return (
        f"_**Stale:** the code this measures changed since `{str(commit)[:12]}`: {named}{rest} "
        f"(`git diff --name-only {str(commit)[:12]} HEAD`). Run `make bench` again._"
    )


# The recorded settings the guide names, in its words.
SETTING_WORDS = (
    ("gc_threshold", "GC threshold", ""),
    ("SHOWCASE_HEARTBEAT_S", "heartbeat", " s"),
    ("SHOWCASE_SEND_TIMEOUT_S", "send deadline", " s"),
    ("SHOWCASE_WORKER_CONNECTIONS", "worker_connections", ""),
)


def settings_line(found: Mapping[str, Mapping[str, Any]]) -> str:
    """The server settings the files recorded (environment.settings), said once; which files
    differ, or that none recorded them."""
    recorded = {
        name: doc["environment"]["settings"]
        for name, doc in found.items()
        if isinstance(doc.get("environment", {}).get("settings"), dict)
    }
    if not recorded:
        return "not recorded in this publish"

    def words(settings: Mapping[str, Any]) -> str:
        parts = []
        for key, word, unit in SETTING_WORDS:
            value = settings.get(key)
            if isinstance(value, list):
                parts.append(f"{word} {','.join(str(v) for v in value)}{unit}")
            elif isinstance(value, int | float):
                parts.append(f"{word} {value:,g}{unit}")
        return "; ".join(parts)

    said = Counter(words(settings) for settings in recorded.values())
    common = said.most_common(1)[0][0]
    odd = [name for name, settings in recorded.items() if words(settings) != common]
    missing = [name for name in found if name not in recorded]
    text = common
    if odd:
        text += "; different in " + ", ".join(odd)
    if missing:
        text += "; not recorded by " + ", ".join(missing)
    return text
