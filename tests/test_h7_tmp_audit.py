from tests.conftest import run_cli
def test_x(tiny_controls, tmp_path):
    p = run_cli("audit", "--controls", str(tiny_controls), "--group", "tiny", "--out", str(tmp_path / "aud"))
    print("RC", p.returncode); print(p.stdout[-3000:]); print(p.stderr[-2000:])
