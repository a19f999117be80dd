"""The suite runs on the locked set-up: every package of requirements/lock.txt is
installed at its locked version. `make test-latest` runs the suite without this test,
against the newest releases, and prints the drift instead."""
import pytest

from stn_plugin.cli.environment_lock import LOCK_FILE, installed_versions, lock_drift, parse_lock, read_lock, \
    write_lock


def test_this_environment_is_the_locked_one():
    drift = lock_drift(read_lock(), installed_versions())
    assert not drift, (f"this environment differs from {LOCK_FILE} in {len(drift)} package(s):\n  "
                       + "\n  ".join(drift)
                       + "\nRun `make setup` to install the lock, or `make lock` after `make test-latest` "
                         "to move the lock to the newest releases.")


def test_the_lock_pins_the_stack_the_suite_depends_on():
    locked = read_lock()
    # the image data of the benchmarks depends on OpenCV's interpolation, the configs on mmdet's
    for name in ("torch", "torchvision", "mmcv", "mmengine", "mmdet", "opencv-python", "numpy", "onnxruntime"):
        assert name in locked, f"{name} is not pinned in {LOCK_FILE}"


def test_a_written_lock_reads_back(tmp_path):
    lock = tmp_path / "lock.txt"
    assert write_lock(lock, {"numpy": "2.4.6", "stn-plugin": "0.1.0", "pip": "25.0", "opencv-python": "4.14.0.94"}) == 2
    assert read_lock(lock) == {"numpy": "2.4.6", "opencv-python": "4.14.0.94"}
    assert not (tmp_path / "lock.txt.partial").exists()


@pytest.mark.parametrize("line, message", [("numpy>=2", "expected 'name==version'"),
                                           ("-e .", "expected 'name==version'")])
def test_a_lock_line_that_pins_nothing_is_refused(line, message):
    with pytest.raises(ValueError, match=message):
        parse_lock(["torch==2.14.1", line], source="lock.txt")


def test_a_package_pinned_twice_is_refused():
    with pytest.raises(ValueError, match="lock.txt:2: numpy is pinned twice"):
        parse_lock(["numpy==2.4.6", "NumPy==2.4.5"], source="lock.txt")


def test_drift_names_missing_and_other_versions():
    assert lock_drift({"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "2.1"}) == \
        ["b: locked 2, installed 2.1", "c: locked 3, not installed"]
