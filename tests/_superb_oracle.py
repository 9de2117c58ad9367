"""The SUPERB oracle's s3prl side and its comparisons (tests/test_superb_oracle.py).

Run as a script in a process of its own, it is s3prl's own entry point on the config spear-bench
dumped, with only what any user of this environment needs first: spear-bench's hub entries
registered (``spear_bench.upstreams.register()``, which also applies the s3prl compatibility
patches) and, for the recipes that download small metadata files at run time, those files taken
from the corpus folder (``spear_bench.superb.recipe_files.recipe_files``: URL -> local file, and
SuperbSD's dscore replaced by the same DER computed offline). Nothing else of spear-bench runs:

    python tests/_superb_oracle.py problem '{"task": ..., "fold": ..., "config": ..., "target_dir": ...}'

runs ``python -m s3prl.main <Problem> --config <dumped> --target_dir ... --cache_dir ...`` (s3prl's
``main()``, in this process);

    python tests/_superb_oracle.py legacy ARGV...

runs s3prl's ``run_downstream.py`` as a script (``__main__``) with ARGV.
"""

from __future__ import annotations

import json
import math
import runpy
import sys
from pathlib import Path

import torch
import yaml


def run_problem(arguments: dict) -> None:
    from spear_bench.superb.recipe_files import recipe_files
    from spear_bench.superb.recipes import recipe_for
    from spear_bench.task_registry import load_suite
    from spear_bench.upstreams import register

    register()
    import s3prl.main  # after register(): s3prl imports only with the compatibility patches in place

    spec = load_suite(arguments["suite"]).task(arguments["task"])
    recipe = recipe_for(spec)
    (fold,) = [f for f in recipe.folds(spec.check_data(Path(arguments["data_root"]))) if f.name == arguments["fold"]]
    target_dir = Path(arguments["target_dir"])
    cache_dir = target_dir / "s3prl_cache"
    with recipe_files(spec, fold, cache_dir):
        sys.argv = ["s3prl.main", recipe.problem, "--config", arguments["config"]]
        sys.argv += ["--target_dir", str(target_dir), "--cache_dir", str(cache_dir)]
        s3prl.main.main()


def run_legacy(argv: list[str]) -> None:
    import s3prl

    from spear_bench.compat import s3prl_legacy
    from spear_bench.upstreams import register

    register()
    s3prl_legacy.apply()
    script = Path(s3prl.__file__).parent / "run_downstream.py"
    sys.argv = [str(script), *argv]
    runpy.run_path(str(script), run_name="__main__")


# --- comparisons ------------------------------------------------------------------------------------


def max_abs_diff(ours, theirs, where: str = "") -> float:
    """The largest |ours - theirs| over two nested structures of tensors / arrays / numbers; a structural
    difference (keys, lengths, types, strings) is an AssertionError naming where."""
    if isinstance(ours, torch.Tensor):
        assert isinstance(theirs, torch.Tensor) and ours.shape == theirs.shape, where
        assert ours.dtype == theirs.dtype, f"{where}: {ours.dtype} vs {theirs.dtype}"
        if ours.numel() == 0:
            return 0.0
        if not ours.is_floating_point():
            return 0.0 if torch.equal(ours, theirs) else math.inf
        return (ours.double() - theirs.double()).abs().max().item()
    if isinstance(ours, dict):
        assert isinstance(theirs, dict) and set(ours) == set(theirs), f"{where}: keys {set(ours) ^ set(theirs)}"
        return max([max_abs_diff(ours[k], theirs[k], f"{where}/{k}") for k in ours] or [0.0])
    if isinstance(ours, (list, tuple)):
        assert isinstance(theirs, (list, tuple)) and len(ours) == len(theirs), where
        return max([max_abs_diff(a, b, f"{where}[{i}]") for i, (a, b) in enumerate(zip(ours, theirs))] or [0.0])
    if isinstance(ours, float) and isinstance(theirs, float):
        if math.isnan(ours) and math.isnan(theirs):
            return 0.0
        return abs(ours - theirs)
    if hasattr(ours, "shape") and hasattr(ours, "dtype"):  # numpy
        return max_abs_diff(torch.as_tensor(ours), torch.as_tensor(theirs), where)
    assert ours == theirs, f"{where}: {ours!r} vs {theirs!r}"
    return 0.0


def load(path: Path):
    if path.suffix == ".yaml":
        return yaml.safe_load(path.read_text())
    return torch.load(path, map_location="cpu", weights_only=False)  # files the test itself just wrote


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1] == "problem":
        run_problem(json.loads(sys.argv[2]))
    else:
        run_legacy(sys.argv[2:])
