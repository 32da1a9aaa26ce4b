"""Bad input, as a new user types it, across the five commands: one line, exit 2, nothing left behind.

Each case runs ``cnnbench.cli.main`` in this process (a few run the installed command in a subprocess) and
asserts the exit status, a single ``cnnbench: error:`` line on stderr naming the problem, no traceback, and
that the folder it ran in is exactly as before: no record, no Hydra run folder, no report, no temporary file.
Placeholders: ``{results}`` a fresh results folder, ``{file}`` a plain file, ``{records}`` a folder of records,
``{tmp}`` the test's folder.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_helpers import cnnbench

from cnnbench.cli import main
from cnnbench.report import synthetic


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    says: str  # a fragment of the one error line: what is wrong, or what is allowed

    def __str__(self) -> str:
        return " ".join(self.argv)[:80]


def case(line: str, says: str) -> Case:
    return Case(tuple(line.split()), says)


#: settings every run and sweep case starts from: tiny, quiet, and writing under the test's folder
RUN_BASE = ("trainer.epochs=1", "trainer.progress=false", "results.dir={results}")

RUN = [
    # types: nothing is cast, nothing is guessed
    case("trainer.epochs=abc", "trainer.epochs must be an integer >= 1, got 'abc'"),
    case("trainer.epochs=1.5", "trainer.epochs must be an integer >= 1, got 1.5"),
    case("trainer.epochs=0", "trainer.epochs must be an integer >= 1, got 0"),
    case("trainer.epochs=-2", "trainer.epochs must be an integer >= 1"),
    case("trainer.epochs=true", "trainer.epochs must be an integer >= 1, got true"),
    case("trainer.epochs=null", "trainer.epochs must be an integer >= 1, got null"),
    case("trainer.batch_size=1.5", "trainer.batch_size must be an integer >= 1, got 1.5"),
    case("trainer.batch_size=0", "trainer.batch_size must be an integer >= 1, got 0"),
    case("trainer.batch_size=abc", "trainer.batch_size must be an integer"),
    case("trainer.batch_size=[16]", "trainer.batch_size must be an integer"),
    case("trainer.compile=maybe", "trainer.compile must be true or false, got 'maybe'"),
    case("trainer.compile=1", "trainer.compile must be true or false, got 1"),
    case("trainer.compile=yes", "trainer.compile must be true or false"),
    case("trainer.deterministic=maybe", "trainer.deterministic must be true or false"),
    case("trainer.channels_last=2", "trainer.channels_last must be true or false"),
    case("trainer.threads=-1", "trainer.threads must be an integer >= 1 or null, got -1"),
    case("trainer.threads=0", "trainer.threads must be an integer >= 1 or null, got 0"),
    case("trainer.threads=1.5", "trainer.threads must be an integer >= 1 or null"),
    case("trainer.threads=all", "trainer.threads must be an integer >= 1 or null"),
    case("trainer.precision=fp8", "trainer.precision must be one of fp32, bf16, fp16, got 'fp8'"),
    case("trainer.precision=32", "trainer.precision must be one of fp32, bf16, fp16, got 32"),
    case("trainer.device=gpu", "trainer.device must be auto, cpu, mps, cuda or cuda:N, got 'gpu'"),
    case("trainer.device=cuda:x", "trainer.device must be auto, cpu, mps, cuda or cuda:N"),
    case("trainer.device=cuda:7", "trainer.device"),
    case("trainer.progress=sometimes", "trainer.progress must be one of auto, true, false"),
    case("trainer.seed=-1", "trainer.seed must be an integer >= 0, got -1"),
    case("trainer.seed=1.5", "trainer.seed must be an integer >= 0"),
    case("trainer.seed=abc", "trainer.seed must be an integer >= 0"),
    case("trainer.select=best", "trainer.select"),
    case("trainer.select=1", "trainer.select"),
    # unknown keys, with the closest known ones
    case("trainer.epoch=3", "unknown config key trainer.epoch: did you mean trainer.epochs"),
    case("trainer.batchsize=3", "did you mean trainer.batch_size"),
    case("trainer.thread=2", "did you mean trainer.threads"),
    case("+trainer.epoch=3", "unknown config key trainer.epoch: did you mean trainer.epochs"),
    case("trainer=nope", "unknown trainer 'nope'"),
    case("foo=1", "unknown config key foo"),
    case("+foo=1", "unknown config section foo"),
    case("+data.foo=1", "unknown config key data.foo"),
    case("+results.foo=1", "unknown config key results.foo"),
    case("~optimizer", "the config has no optimizer section"),
    case("~task", "the config has no task section"),
    case("~data", "the config has no data section"),
    # optimizer and schedule: ranges, and what torch's own classes take
    case("optimizer.lr=-1", "optimizer.lr must be a number > 0, got -1"),
    case("optimizer.lr=0", "optimizer.lr must be a number > 0, got 0"),
    case("optimizer.lr=abc", "optimizer.lr must be a number > 0, got 'abc'"),
    case("optimizer.lr=inf", "optimizer.lr must be a number > 0, got inf"),
    case("optimizer.lr=nan", "optimizer.lr must be a number > 0, got nan"),
    case("optimizer.weight_decay=-0.1", "optimizer.weight_decay must be a number >= 0"),
    case("optimizer.weight_decay=abc", "optimizer.weight_decay must be a number >= 0"),
    case("+optimizer.betas=[0.9]", "optimizer.betas must be two numbers >= 0 and < 1"),
    case("+optimizer.betas=[0.9,1.5]", "optimizer.betas must be two numbers >= 0 and < 1"),
    case("+optimizer.eps=0", "optimizer.eps must be a number > 0"),
    case("+optimizer.lrr=1", "unknown config key optimizer.lrr: did you mean optimizer.lr"),
    case("optimizer.lrr=1", "unknown config key optimizer.lrr: did you mean optimizer.lr"),
    case("optimizer=sgd optimizer.momentum=-1", "optimizer.momentum must be a number >= 0 and < 1, got -1"),
    case("optimizer=sgd optimizer.momentum=1", "optimizer.momentum must be a number >= 0 and < 1, got 1"),
    case("optimizer=sgd optimizer.momentum=abc", "optimizer.momentum must be a number >= 0 and < 1"),
    case("optimizer=sgd +optimizer.nesterov=maybe", "optimizer.nesterov must be true or false"),
    case("optimizer=adamm", "unknown optimizer 'adamm': did you mean adam"),
    case("optimizer._target_=torch.optim.Nope", "optimizer._target_ 'torch.optim.Nope' cannot be imported"),
    case("optimizer._target_=nonexistent.module.X", "optimizer._target_ 'nonexistent.module.X' cannot be imported"),
    case("optimizer._target_=3", "optimizer._target_ must be the dotted name of a class"),
    case("schedule=step schedule.step_size=0", "schedule.step_size must be an integer >= 1, got 0"),
    case("schedule=step schedule.step_size=1.5", "schedule.step_size must be an integer >= 1, got 1.5"),
    case("schedule=step schedule.step_size=abc", "schedule.step_size must be an integer >= 1"),
    case("schedule=step schedule.gamma=0", "schedule.gamma must be a number > 0"),
    case("schedule=step schedule.gamma=-1", "schedule.gamma must be a number > 0"),
    case("schedule=cosine schedule.T_max=0", "schedule.T_max must be an integer >= 1, got 0"),
    case("schedule=constant schedule.factor=2", "schedule.factor must be a number >= 0 and <= 1, got 2"),
    case("schedule=constant +schedule.total_iters=-1", "schedule.total_iters must be an integer >= 0"),
    case("schedule=nope", "unknown schedule 'nope'"),
    case("schedule=step +schedule.step=3", "unknown config key schedule.step: did you mean schedule.step_size"),
    # data (the split keys are the lead's; either message names the key)
    case("data.val_fraction=0", "data.val_fraction"),
    case("data.val_fraction=1", "data.val_fraction"),
    case("data.val_fraction=1.5", "data.val_fraction"),
    case("data.val_fraction=abc", "data.val_fraction"),
    case("data.split_seed=-1", "data.split_seed"),
    case("data.split_seed=abc", "data.split_seed"),
    case("data.root=", "data.root must be a non-empty string, got ''"),
    case("task.dataset=imagefolder data.imagefolder.max_size=0", "dataset 'imagefolder': max_size must be an integer >= 1, got 0"),
    case("data.imagefolder.max_size=abc", "data.imagefolder.max_size must be an integer, got 'abc'"),
    case("+data.imagefolder.size=3", "dataset 'imagefolder' has no hyperparameter size"),
    case("+data.imagefoldr.max_size=3", "unknown config key data.imagefoldr: did you mean data.imagefolder"),
    case("--cfg job pooling=nope", "unknown pooling 'nope'"),
    case("--cfg job trainer.epoch=3", "unknown config key trainer.epoch: did you mean trainer.epochs"),
    case("task.dataset=mnist data.root={tmp}/nowhere", "nowhere/mnist"),
    case("task.dataset=usps data.root={tmp}/nowhere", "nowhere/usps"),
    case("task.dataset=cifar10 data.root={file}", "cifar10"),
    # results: refused before training, not after it
    case("results.dir={file}", "results.dir {file} cannot hold results"),
    case("results.dir={file}/sub", "cannot hold results"),
    case("results.dir=/proc/cnnbench-results", "results.dir /proc/cnnbench-results cannot hold results"),
    case("results.checkpoint=maybe", "results.checkpoint must be true or false"),
    case("results.dir=", "results.dir must be a non-empty string, got ''"),
    # components: names, hyperparameters, their types, and what fits together
    case("pooling=mixd", "unknown pooling 'mixd': did you mean mixed"),
    case("activation=leaky_rel", "unknown activation 'leaky_rel': did you mean leaky_relu"),
    case("convolution=dilatd", "unknown convolution 'dilatd': did you mean dilated"),
    case("loss=nope", "unknown loss 'nope'"),
    case("model=lenet", "unknown model 'lenet': did you mean lenet5"),
    case("task=classify", "unknown task 'classify'"),
    case("pooling=mixed pooling.lam=abc", "pooling.lam must be a number, got 'abc'"),
    case("pooling=mixed pooling.lam=[1]", "pooling.lam must be a number"),
    case("pooling=mixed pooling.lam=true", "pooling.lam must be a number, got true"),
    case("pooling=mixed pooling.lam=1.5", "lam"),
    case("pooling=mixed pooling.lamb=0.3", "pooling 'mixed' has no hyperparameter lamb: did you mean lam"),
    case("pooling.lam=0.3", "pooling 'max' has no hyperparameter lam: it has: none; poolings with lam: mixed"),
    case("pooling=lp pooling.p=abc", "pooling.p must be a number"),
    case("activation=leaky_relu activation.negative_slope=abc", "activation.negative_slope must be a number"),
    case("activation=leaky_relu activation.slope=0.1", "activation 'leaky_relu' has no hyperparameter slope: it has: negative_slope"),
    case("activation=maxout activation.pieces=1.5", "activation.pieces must be an integer"),
    case("convolution=dilated convolution.dilation=abc", "convolution.dilation must be an integer"),
    case("loss=hinge loss.margin=abc", "loss.margin must be a number, got 'abc'"),
    case("loss=hinge loss.p=1.5", "loss.p must be an integer"),
    case("loss=triplet", "loss 'triplet' takes embeddings"),
    case("model=fcn", "model 'fcn' serves segmentation"),
    # model=custom: refused before the data is looked for (it is missing too)
    case("model=custom model.args=null task.dataset=mnist data.root={tmp}/nowhere", "model.args must be a mapping, got null"),
    case("model=custom model.target=nope:X task.dataset=mnist data.root={tmp}/nowhere", "model 'custom': target 'nope:X' cannot be imported: ModuleNotFoundError"),
    case("model=custom model.target=torch.nn:Linear", "model 'custom': target 'torch.nn:Linear': missing a required argument: 'in_features'"),
    case("model=custom model.args={nope:1}", "got an unexpected keyword argument 'nope'; cnnbench calls it with parts, in_channels, num_classes, image_size, nope"),
    case("model=alexnet model.width=abc", "model.width must be an integer"),
    case("model=alexnet model.dropout=abc", "model.dropout must be a number"),
    case("task.dataset=imagenet", "imagenet"),
    case("task.limit=0", "limit must be >= 1 or null, got 0"),
    case("task.eval_batch_size=0", "eval_batch_size must be >= 1, got 0"),
    case("task.eval_batch_size=1.5", "task.eval_batch_size must be an integer, got 1.5"),
    case("task.eval_batch_size=abc", "task.eval_batch_size must be an integer"),
    case("task.dataset=3", "task.dataset must be a string, got 3"),
    case("task=segmentation task.n_train=abc", "task.n_train must be an integer"),
    case("task=segmentation task.limit=10", "task 'segmentation' has no hyperparameter limit"),
    case("task=segmentation task.eval_batch_size=0", "eval_batch_size must be an integer >= 1, got 0"),
    case("task=metric_learning loss=softmax", "loss 'softmax' takes logits"),
    case("task=metric_learning task.limit=64", "task.limit=64 is too small: some class needs 15 images among the first task.limit training images"),
    case("task=metric_learning task.limit=5", "the training sample has 2 images of 2 classes; task.limit=5 is too small"),
    # Hydra's grammar and flags, in cnnbench's one line
    case("trainer.epochs=[1", "cannot read override 'trainer.epochs=[1': no viable alternative at input '[1'"),
    case("activation=relu,elu", "Ambiguous value for argument 'activation=relu,elu'"),
    case("experiment=nope", "unknown experiment 'nope'"),
    case("-m trainer.epochs=1,abc", "trainer.epochs must be an integer >= 1, got 'abc'"),
    case("-m activation=relu,nope", "unknown activation 'nope'"),
    case("-m optimizer.lr=0.1,-1", "optimizer.lr must be a number > 0, got -1"),
    case("-m trainer.batch_size=8,0", "trainer.batch_size must be an integer >= 1, got 0"),
    case("--cfg nothing", "argument --cfg/-c: invalid choice: 'nothing'"),
    case("--info nonsense", "argument --info/-i: invalid choice: 'nonsense'"),
    case("--config-dir {tmp}/nope", "--config-dir {tmp}/nope: no such folder"),
    case("--config-dir {tmp}/presets pooling=broken", "{tmp}/presets/pooling/broken.yaml line 3, column 1: not valid YAML (expected ',' or ']'"),
    case("--config-dir {tmp}/presets pooling=broken --cfg job", "broken.yaml line 3, column 1: not valid YAML"),
    case("--shell-completion", "--shell-completion needs install=SHELL, uninstall=SHELL or query=SHELL"),
    case("--frobnicate", "unrecognized arguments: --frobnicate (see `cnnbench run --help`)"),
]

SWEEP = [
    case("sweep.study=..", "sweep.study must be a folder name"),
    case("sweep.study=.", "sweep.study must be a folder name"),
    case("sweep.study=.hidden", "sweep.study must be a folder name"),
    case("sweep.study=a/b", "sweep.study must be a folder name"),
    case("sweep.study=3", "sweep.study must be a folder name"),
    case("sweep.trials=0", "sweep.trials must be an integer >= 1, got 0"),
    case("sweep.trials=abc", "sweep.trials must be an integer >= 1"),
    case("sweep.trials=1.5", "sweep.trials must be an integer >= 1"),
    case("sweep.workers=0", "sweep.workers must be an integer >= 1"),
    case("sweep.max_retry=-1", "sweep.max_retry must be an integer >= 0"),
    case("sweep.heartbeat_s=0", "sweep.heartbeat_s must be an integer >= 1"),
    case("sweep.seed=-1", "sweep.seed must be an integer >= 0"),
    case("sweep.retry_failed=maybe", "sweep.retry_failed must be true or false"),
    case("sweep.sampler=nope", "unknown sweep.sampler 'nope'"),
    case("sweep.pruner=nope", "unknown sweep.pruner 'nope'"),
    case("sweep.seeds=[]", "sweep.seeds must be null or a non-empty list of integers"),
    case("sweep.seeds=[1,1]", "sweep.seeds has duplicates"),
    case("sweep.seeds=abc", "sweep.seeds must be null or a non-empty list of integers"),
    case("sweep.sampler_args={nope:1}", "sweep.sampler_args"),
    case("sweep.pruner_args={nope:1}", "sweep.pruner_args"),
    case("sweep.sampler_args=3", "sweep.sampler_args must be a mapping"),
    case("+sweep.trial=3", "unknown sweep setting trial"),
    case("sweep.trial=3", "unknown config key sweep.trial: did you mean sweep.trials"),
    case("sweep=nope", "unknown sweep 'nope'"),
    case("--config-dir {tmp}/presets pooling=broken sweep=mixed_lambda", "broken.yaml line 3, column 1: not valid YAML"),
    case("sweep=mixd_lambda", "did you mean mixed_lambda"),
    case(
        "--config-dir {tmp}/presets sweep=component_choice sweep.params.activation.choices=[relu,slopey]",
        "sweep.params.activation=slopey: activation 'leaky_relu' has no hyperparameter slope",
    ),
    case("sweep.objectives=[{metric:acc,direction:maximize}]", "sweep.objectives: 'acc' is not a metric of task classification; metrics: accuracy, loss"),
    case("sweep.objectives=[{metric:accuracy,direction:up}]", "direction of accuracy must be maximize or minimize"),
    case("sweep.objectives=[{metric:accuracy}]", "each entry is {metric: ..., direction: maximize|minimize}"),
    case("sweep.objectives=accuracy", "sweep.objectives must be a non-empty list"),
    case("sweep.sampler=cmaes", "sweep.sampler=cmaes needs at least two parameters"),
    case("sweep.sampler=grid", "grid and brute-force search need a step for a float parameter"),
    case("sweep=mixed_lambda sweep.sampler=grid +sweep.params.pooling.lam.step=1e-8", "the grid has 1e+08 points, more than the 100000"),
    case("sweep=mixed_lambda sweep.params.pooling.lam.low=abc", "sweep.params.pooling.lam: low must be a number"),
    case("sweep=mixed_lambda sweep.params.pooling.lam.low=2 sweep.params.pooling.lam.high=1", "low 2.0 > high 1.0"),
    case("sweep=mixed_lambda +sweep.params.pooling.lam.log=maybe", "log must be true or false"),
    case("sweep=mixed_lambda +sweep.params.pooling.lamb={type:float,low:0,high:1}", "'pooling.lamb' is not a value of the composed config"),
    case("+sweep.params.trainer.epochs={type:int,low:0,high:3}", "sweep.params.trainer.epochs: trainer.epochs must be an integer >= 1, got 0"),
    case("+sweep.params.optimizer.weight_decay={type:float,low:-1,high:1}", "sweep.params.optimizer.weight_decay: optimizer.weight_decay must be a number >= 0, got -1.0"),
    case("+sweep.params.trainer.compile={type:categorical,choices:[true,maybe]}", "sweep.params.trainer.compile: trainer.compile must be true or false, got 'maybe'"),
    case("+sweep.params.activation={type:categorical,choices:[relu,nope]}", "no option 'nope' in group activation"),
    case("+sweep.params.activation={type:float,low:0,high:1}", "activation is a config group; search it with type: categorical"),
    case("trainer.epochs=abc", "trainer.epochs must be an integer >= 1, got 'abc'"),
    case("optimizer.lr=-1", "optimizer.lr must be a number > 0, got -1"),
    case("trainer.epoch=3", "unknown config key trainer.epoch: did you mean trainer.epochs"),
    case("activation=leaky_rel", "did you mean leaky_relu"),
    case("results.dir={file}", "results.dir {file} cannot hold results"),
    case("sweep.storage='postgresql://bob:hunter2@127.0.0.1:1/optuna?password=hunter2'", "cannot open sweep storage postgresql://***@127.0.0.1:1/optuna?password=***"),
    case("sweep.storage=bogus://x", "sweep.storage takes a journal file path (the default), sqlite:///PATH or a database URL such as postgresql://HOST/DB"),
    case("--cfg job sweep.storage=postgresql://bob:hunter2@h/db?password=hunter2", "cannot read override 'sweep.storage=postgresql://***@h/db?password=***'"),
    case("-m sweep.trials=1,2", "cnnbench sweep takes overrides, --config-dir and Hydra's showing flags"),
    case("--config-name other", "cnnbench sweep takes overrides"),
    case("--cfg nothing", "invalid choice: 'nothing'"),
]

REPORT = [
    case("--results {tmp}/nowhere", "does not exist"),
    case("--results {tmp}/empty", "no run records"),
    case("--results {records} --out {file}", "--out {file} is a file"),
    case("--results {records} --out {tmp}", "holds files a report does not write"),
    case("--results {records} --metric nope", "no metric 'nope' in the run records"),
    case("--results {records} --where ((", "invalid --where filter"),
    case("--results {records} --where nope>1", "invalid --where filter"),
    case("--results {records} --by nope", "--by names unknown columns nope"),
    case("--results {records} --task nope", "no records match the filters (task=nope); --task values in the records: classification"),
    case("--results {records} --baseline activation=reluu", "--baseline activation=reluu matches no run; activation in these runs: elu, relu"),
    case("--results {records} --dataset nope", "no records match the filters"),
    case("--results {records} --study nope", "no records match the filters"),
    case("--results {records} --baseline garbage", "baseline"),
    case("--results {records} --baseline nokey=relu", "bad --baseline item 'nokey=relu'"),
    case("--results {records} --confidence 2", "confidence must be between 0 and 1"),
    case("--results {records} --confidence 0", "confidence must be between 0 and 1"),
    case("--results {records} --confidence abc", "--confidence"),
    case("--results {records} --format nope", "unknown format nope"),
    case("--results {records} --format ,", "unknown format (none)"),
    case("--results {records} --maximize --minimize", "not allowed with argument --maximize"),
    case("--results {records} --frobnicate", "unrecognized arguments: --frobnicate"),
    case("--results {records} --out /proc/cnnbench-report", "--out /proc/cnnbench-report cannot be written"),
]

BENCH = [
    case("nope", "unknown kind 'nope'"),
    case("--shape 1,2,3", "--shape must be four positive integers"),
    case("--shape a,b,c,d", "--shape must be four positive integers"),
    case("--shape 0,1,1,1", "--shape must be four positive integers"),
    case("--shape 1,2,3,4,5", "--shape must be four positive integers"),
    case("--repeats 0", "argument --repeats: must be a positive int, got '0'"),
    case("--repeats abc", "argument --repeats: must be a positive int"),
    case("--min-time -1", "argument --min-time: must be a positive float"),
    case("--min-time nan", "argument --min-time"),
    case("--threads 0", "argument --threads: must be a positive int"),
    case("--dtype float8", "argument --dtype: invalid choice: 'float8'"),
    case("--clock nope", "argument --clock: invalid choice"),
    case("--device gpu", "--device"),
    case("--device cuda:7", "--device"),
    case("--names zzz*", "component matches --names 'zzz*'; names: "),
    case("pooling --names zzz*", "no pooling component matches --names 'zzz*'; names: avg, lp, max, mixed"),
    case("pooling --names , ", "matches --names"),
    case("--results {file}", "--results {file} cannot hold results"),
    case("--frobnicate", "unrecognized arguments: --frobnicate"),
]

LIST = [
    case("nope", "argument kind: invalid choice: 'nope'"),
    case("--frobnicate", "unrecognized arguments: --frobnicate"),
    case("activation pooling", "cnnbench list: unrecognized arguments: pooling (see `cnnbench list --help`)"),
    case("pooling --json --frobnicate", "cnnbench list: unrecognized arguments: --frobnicate (see `cnnbench list --help`)"),
]

TOP = [
    Case((), "the following arguments are required: COMMAND"),
    case("nope", "argument COMMAND: invalid choice: 'nope'"),
    case("--frobnicate", "the following arguments are required: COMMAND"),
]

CASES = (
    [pytest.param(("run", *RUN_BASE, *c.argv), c.says, id=f"run {c}") for c in RUN]
    + [pytest.param(("sweep", *RUN_BASE, *c.argv), c.says, id=f"sweep {c}") for c in SWEEP]
    + [pytest.param(("report", *c.argv), c.says, id=f"report {c}") for c in REPORT]
    + [pytest.param(("bench", "--repeats", "1", "--min-time", "0.001", *c.argv), c.says, id=f"bench {c}") for c in BENCH]
    + [pytest.param(("list", *c.argv), c.says, id=f"list {c}") for c in LIST]
    + [pytest.param(c.argv, c.says, id=f"cnnbench {c}") for c in TOP]
)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("records")
    synthetic.write_all(synthetic.grid(activations=("relu", "elu"), poolings=("max",), seeds=range(2), devices=("cpu",)), folder)
    return folder


def _files(folder: Path) -> dict[str, int | None]:
    """Every file with its size, and every folder (``None``): an empty folder left behind counts too."""
    return {str(p.relative_to(folder)): p.stat().st_size if p.is_file() else None for p in folder.rglob("*")}


def _fill(argv: tuple[str, ...], tmp: Path, records: Path) -> list[str]:
    places = {"{results}": str(tmp / "results"), "{file}": str(tmp / "a_file"), "{records}": str(records), "{tmp}": str(tmp)}
    filled = []
    for arg in argv:
        for key, value in places.items():
            arg = arg.replace(key, value)
        filled.append(arg)
    return filled


def test_the_suite_is_large_enough() -> None:
    assert len(CASES) >= 150
    commands = {param.values[0][0] if param.values[0] else "cnnbench" for param in CASES}
    assert {"run", "sweep", "report", "bench", "list"} <= commands


@pytest.mark.parametrize(("argv", "says"), CASES)
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(
    argv: tuple[str, ...], says: str, tmp_path: Path, records: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a_file").write_text("not a folder\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "presets" / "pooling").mkdir(parents=True)
    (tmp_path / "presets" / "pooling" / "broken.yaml").write_text("name: mixed\nlam: [oops\n")  # a typo in one's own preset
    (tmp_path / "presets" / "activation").mkdir()
    (tmp_path / "presets" / "activation" / "slopey.yaml").write_text("name: leaky_relu\nslope: 0.2\n")  # a misnamed hyperparameter
    monkeypatch.chdir(tmp_path)  # anything written relative to the working folder shows up below
    before, records_before = _files(tmp_path), _files(records)
    status = main(_fill(argv, tmp_path, records))
    captured = capsys.readouterr()
    assert status == 2, captured.err
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnnbench: error: "), captured.err
    assert _fill((says,), tmp_path, records)[0] in lines[0]
    assert _files(tmp_path) == before and _files(records) == records_before
    assert not any(p.name in ("hydra", "runs", "sweeps", "report") for p in tmp_path.rglob("*")), sorted(tmp_path.rglob("*"))


SUBPROCESS = [
    (("run", "trainer.epoch=3"), "unknown config key trainer.epoch: did you mean trainer.epochs"),
    (("sweep", "sweep.study=.."), "sweep.study must be a folder name"),
    (("report", "--results", "nowhere"), "does not exist"),
    (("bench", "--shape", "1,2"), "--shape must be four positive integers"),
]


@pytest.mark.parametrize(("argv", "says"), SUBPROCESS, ids=[" ".join(argv) for argv, _ in SUBPROCESS])
def test_the_installed_command_says_the_same(argv: tuple[str, ...], says: str, tmp_path: Path) -> None:
    result = cnnbench(*argv, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [next(line for line in result.stderr.splitlines() if says in line)]
    assert list(tmp_path.iterdir()) == []


def test_list_json_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    command = f"{sys.executable} -m cnnbench.cli list --json | head -c 10"
    result = subprocess.run(command, shell=True, capture_output=True, text=True, cwd=tmp_path)
    assert result.stdout == '[\n  {\n    "k'[:10] and result.stderr == ""
