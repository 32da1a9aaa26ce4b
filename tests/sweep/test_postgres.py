"""Several machines, one PostgreSQL study: exact trial counts, no trial twice, the storage's best, no password leaks.

Two ``cnnbench sweep`` commands stand in for two machines (separate results folders), each with two worker
processes, so four workers race for the same eight trials.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from cnnbench.sweep.accounting import SURPLUS

pytestmark = pytest.mark.postgres

PASSWORD = "pw-never-logged-7f3a"  # the loopback server trusts every connection, so any password is accepted
URL = f"postgresql+psycopg2://postgres:{PASSWORD}@127.0.0.1:5432/test"
TRIALS = 8


@pytest.fixture
def postgres() -> optuna.storages.RDBStorage:
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test", connect_timeout=3).close()
    except psycopg2.OperationalError:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    return optuna.storages.RDBStorage(URL)


def files_text(folder: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def test_three_workers_on_two_machines_fill_one_postgres_study_exactly(tmp_path, postgres):
    name = f"pg-{uuid.uuid4().hex[:12]}"
    command = [
        sys.executable, "-m", "cnnbench.cli", "sweep", "sweep=mixed_lambda", f"sweep.study={name}", f"sweep.storage={URL}",
        f"sweep.trials={TRIALS}", "sweep.pruner=none", "sweep.sampler=random", "sweep.heartbeat_s=2",
        "task.limit=200", "trainer.epochs=2", "trainer.threads=1",
    ]  # fmt: skip
    machines = ("a", "b")
    processes = {
        m: subprocess.Popen([*command, "sweep.workers=2", f"results.dir={tmp_path / m}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for m in machines
    }
    outputs = {m: p.communicate(timeout=300) for m, p in processes.items()}
    try:
        for m, process in processes.items():
            assert process.returncode == 0, outputs[m][1]
        study = optuna.load_study(study_name=name, storage=postgres)
        trials = study.get_trials()
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        assert len(complete) == TRIALS
        assert all(t.user_attrs.get(SURPLUS) for t in trials if t.state != TrialState.COMPLETE)  # only race losers, never run

        records = [json.loads(p.read_text()) for p in tmp_path.glob("*/runs/*.json")]
        ran = sorted(r["study"]["trial"] for r in records)
        assert ran == sorted(t.number for t in complete)  # every trial exactly once
        assert {r["study"]["name"] for r in records} == {name}
        workers = {r["run_id"].split("-")[-2] for r in records}  # run ids carry the pid of the process that trained
        assert len(workers) >= 2

        for m in machines:
            summary = json.loads((tmp_path / m / "sweeps" / name / "summary.json").read_text())
            assert summary["best"][0]["number"] == study.best_trial.number
            assert summary["best"][0]["values"] == [study.best_value]
            assert summary["trials"]["complete"] == TRIALS
            assert summary["storage"] == "postgresql+psycopg2://***@127.0.0.1:5432/test"
            assert PASSWORD not in outputs[m][0] + outputs[m][1]
            assert PASSWORD not in files_text(tmp_path / m)
    finally:
        optuna.delete_study(study_name=name, storage=postgres)
