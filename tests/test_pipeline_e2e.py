"""End to end: the demo config on the FnApi runner (in-memory and multi-process) gives the output contract,
conserves every record, quarantines every malformed line, and gives the same bytes every time, also after a
killed run is started again."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpusforge.config import load_config
from corpusforge.pipelines.curate import run_curate

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "configs" / "local.yaml"
PLANTED = json.loads((ROOT / "data" / "demo" / "planted.json").read_text())


def demo_cfg(out: Path, *extra: str):
    return load_config(DEMO, [f"output.dir={out}", f"input.paths=['{ROOT}/data/demo/part-*']",
                              f"perplexity.models_dir={ROOT}/models/demo_lm", *extra])


def parquet_bytes(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for sub in ("kept", "dropped") for p in sorted((run / sub).glob("*"))}


def quarantine_records(run: Path) -> list[dict]:
    """Every quarantine shard's records (quarantine/ is sharded like kept/: issue 13, item 5)."""
    return [json.loads(l) for p in sorted((run / "quarantine").glob("part-*.jsonl"))
            for l in open(p, encoding="utf-8")]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    stats = run_curate(demo_cfg(out, "runner.direct_num_workers=1", "runner.direct_running_mode=in_memory"))
    return out, stats


def test_output_contract(demo_run):
    run, stats = demo_run
    for name in ("kept", "dropped", "quarantine", "stats.json", "manifest.json", "report.html", "_SUCCESS"):
        assert (run / name).exists(), name
    assert not (run / "_work").exists()
    kept = pq.read_table(run / "kept").to_pylist()
    assert kept and {"id", "text", "url", "language", "language_score", "perplexity", "annotations"} <= set(kept[0])
    langs = {r["language"] for r in kept}
    assert len(langs) >= 5, langs
    assert all(r["language_score"] >= 0.65 for r in kept)
    dropped = pq.read_table(run / "dropped").to_pylist()
    assert dropped and {"id", "stage", "reason", "text", "signals", "duplicate_of"} <= set(dropped[0])
    ids = [r["id"] for r in kept] + [r["id"] for r in dropped]
    assert len(ids) == len(set(ids)), "a document ended in two places"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["inputs"] and all(i["checksum"] and i["size"] > 0 for i in manifest["inputs"])
    assert manifest["config"]["langid"]["threshold"] == 0.65 and manifest["packages"]["apache-beam"]
    html = (run / "report.html").read_text()
    assert "data:image/png;base64," in html and "Drop reasons" in html


def test_conservation_and_stage_table(demo_run):
    run, stats = demo_run
    c = stats["conservation"]
    assert c["ok"] and c["input"] == c["kept"] + c["dropped"] + c["quarantined"]
    on_disk_kept = pq.read_table(run / "kept").num_rows
    on_disk_dropped = pq.read_table(run / "dropped").num_rows
    on_disk_q = len(quarantine_records(run))
    assert len(list((run / "quarantine").glob("part-*.jsonl"))) == 2  # sharded like kept/ (num_shards: 2)
    assert (on_disk_kept, on_disk_dropped, on_disk_q) == (c["kept"], c["dropped"], c["quarantined"])
    names = [s["stage"] for s in stats["stages"]]
    assert names[:4] == ["read", "unique_id", "normalize", "langid"] and "dedup" in names and names[-1] == "pii"
    for a, b in zip(stats["stages"], stats["stages"][1:]):
        assert b["in"] == a["out"]


def test_malformed_lines_are_all_quarantined_with_reasons(demo_run):
    run, _ = demo_run
    recs = quarantine_records(run)
    at_read = [r for r in recs if r["stage"] in ("read", "unique_id")]
    assert len(at_read) == PLANTED["malformed_lines"]
    assert all(r["error"] and r["source"] and r["line"] >= 1 for r in at_read)
    errors = " | ".join(r["error"] for r in at_read)
    for fragment in ("invalid JSON", "invalid UTF-8", "missing text field", "empty text", "duplicate id"):
        assert fragment in errors


def test_planted_junk_is_dropped_with_named_reasons(demo_run):
    run, _ = demo_run
    dropped = {r["id"]: r for r in pq.read_table(run / "dropped").to_pylist()}
    kept = {r["id"]: r for r in pq.read_table(run / "kept").to_pylist()}
    kinds = PLANTED["junk_kinds"]
    # Code lines end in ';' or '}', so C4's line rules remove them (TFDS/datatrove order) instead of the page
    # being dropped: those pages must come out cleaned, the rest dropped.
    page_junk = [i for i in PLANTED["junk"] if kinds.get(i) != "code_on_page"]
    caught = [i for i in page_junk if i in dropped]
    assert len(caught) == len(page_junk), sorted(set(page_junk) - set(caught))
    for i in caught:
        assert dropped[i]["reason"].split("_")[0] in ("gopher", "c4", "fineweb", "langid", "perplexity", "dedup")
    for i in (i for i in PLANTED["junk"] if kinds.get(i) == "code_on_page"):
        if i in kept:
            assert json.loads(kept[i]["annotations"])["c4_lines"], "code lines were not removed"
            assert "{" not in kept[i]["text"] and ";" not in kept[i]["text"]
        else:
            assert i in dropped


def test_planted_duplicates_are_dropped_naming_the_kept_original(demo_run):
    run, _ = demo_run
    dropped = {r["id"]: r for r in pq.read_table(run / "dropped").to_pylist()}
    kept_ids = set(pq.read_table(run / "kept", columns=["id"]).column("id").to_pylist())
    pairs = [tuple(p) for p in PLANTED["exact_duplicates"]] + [tuple(p) for p in PLANTED["near_duplicates"]]
    checked = 0
    for a, b in pairs:
        reached_dedup = [x for x in (a, b) if x in kept_ids or dropped.get(x, {}).get("stage") in ("dedup", "pii")]
        if len(reached_dedup) < 2:
            continue  # one of the pair was dropped by an earlier filter
        # Exactly one of the pair survives dedup, and the other names the survivor.
        assert (a in kept_ids) != (b in kept_ids), (a, b)
        winner, loser = (a, b) if a in kept_ids else (b, a)
        assert dropped[loser]["stage"] == "dedup" and dropped[loser]["duplicate_of"] == winner
        assert dropped[loser]["reason"] in ("dedup_exact", "dedup_near_duplicate")
        checked += 1
    assert checked >= len(pairs) // 2


def test_rerun_of_finished_run_does_nothing(demo_run):
    run, stats = demo_run
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    again = run_curate(demo_cfg(run, "runner.direct_num_workers=1", "runner.direct_running_mode=in_memory"))
    assert again["conservation"] == stats["conservation"]
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before


def test_multi_processing_gives_identical_bytes(demo_run, tmp_path):
    run, _ = demo_run
    other = tmp_path / "mp"
    run_curate(demo_cfg(other, "runner.direct_num_workers=2", "runner.direct_running_mode=multi_processing"))
    assert parquet_bytes(other) == parquet_bytes(run)
    q = lambda r: {p.name: p.read_bytes() for p in sorted((r / "quarantine").glob("*"))}  # noqa: E731
    assert q(other) == q(run)


def test_killed_run_resumes_to_identical_output(demo_run, tmp_path):
    run, _ = demo_run
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "corpusforge.cli", "curate", "--config", str(DEMO), "--set", f"output.dir={out}",
           "--set", f"input.paths=['{ROOT}/data/demo/part-*']", "--set", f"perplexity.models_dir={ROOT}/models/demo_lm",
           "--set", "runner.direct_num_workers=1", "--set", "runner.direct_running_mode=in_memory"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "_work").exists():
        time.sleep(0.2)
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "_SUCCESS").exists(), "the run finished before it could be killed; the test proves nothing"
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "curate finished" in done.stdout
    assert parquet_bytes(out) == parquet_bytes(run)
    leftovers = [p for p in out.rglob("*") if ".tmp-" in p.name or p.name == "_work"]
    assert not leftovers


def test_dataflow_graph_builds_offline(tmp_path):
    cfg = demo_cfg(tmp_path / "df", "runner.runner=DataflowRunner", "runner.dataflow.project=fake-project",
                   "runner.dataflow.region=us-central1", "runner.dataflow.temp_location=gs://fake-bucket/tmp",
                   "runner.dataflow.dry_run=true", f"runner.dataflow.setup_file={ROOT}/setup.py",
                   "runner.dataflow.requirements_file=null")
    assert run_curate(cfg) == {"dry_run": True}
    assert not (tmp_path / "df").exists()


def test_crash_in_phase_b_resumes_without_redoing_phase_a(demo_run, tmp_path, monkeypatch, caplog):
    import corpusforge.pipelines.curate as curate

    run, _ = demo_run
    out = tmp_path / "crash"
    cfg = demo_cfg(out, "runner.direct_num_workers=1", "runner.direct_running_mode=in_memory")

    def crash(*a, **k):
        raise RuntimeError("worker lost (injected)")

    real_b = curate.build_phase_b
    monkeypatch.setattr(curate, "build_phase_b", crash)
    with pytest.raises(RuntimeError, match="injected"):
        run_curate(cfg)
    assert (out / "_work" / "a" / "_DONE").exists() and not (out / "_SUCCESS").exists()
    a_files = {p: p.stat().st_mtime_ns for p in (out / "_work" / "a").rglob("*.parquet")}
    monkeypatch.setattr(curate, "build_phase_b", real_b)
    caplog.set_level("INFO", logger="corpusforge.curate")
    run_curate(cfg)
    assert "phase A already done" in caplog.text
    assert parquet_bytes(out) == parquet_bytes(run)
    assert a_files, "phase A wrote no checkpoint"


def test_tokenizer_on_the_demo_run_round_trips_kept_text(demo_run, tmp_path):
    """The curate -> train-tokenizer -> eval-tokenizer -> tokenize chain on a real demo run, as a user runs it."""
    from corpusforge.cli import main
    from corpusforge.tokenizers.shards import TokenShards

    run, _ = demo_run
    tok, shards = tmp_path / "tok", tmp_path / "shards"
    assert main(["train-tokenizer", "--run", str(run), "--out", str(tok), "--vocab-size", "800", "--quiet",
                 "--baseline", "none"]) == 0
    assert main(["eval-tokenizer", "--tokenizer", str(tok), "--run", str(run)]) == 0
    ev = json.loads((run / "tokenizer_eval.json").read_text())
    assert ev["tokenizer"]["overall"]["unknown_tokens"] == 0 and len(ev["tokenizer"]["languages"]) >= 5
    assert main(["tokenize", "--run", str(run), "--tokenizer", str(tok), "--out", str(shards)]) == 0
    kept = {r["id"]: r["text"] for r in pq.read_table(run / "kept", columns=["id", "text"]).to_pylist()}
    reader = TokenShards(str(shards))
    back = {reader.doc_id(i): reader.text(i) for i in range(len(reader))}
    assert back == kept
    assert "Tokenizer" in (run / "report.html").read_text()
