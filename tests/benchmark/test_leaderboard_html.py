"""The HTML page (checked in a real headless Chromium), its plots, and the LaTeX table."""
import os
import shutil
from pathlib import Path

import pytest

from benchmark import report as leaderboard
from benchmark.report import latex, plots
from benchmark.api import BaselineRow, BaselineTable

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LABEL = "AVT & <BERT> #1_x"

TABLE = BaselineTable("paper-y", "Someone & Other <2023>", [
    BaselineRow("egtea", "avt", "none", "none", {"top1_action": 40.0}, label="published base"),
    BaselineRow("egtea", "avt", "bert", "kl", {"top1_action": 41.5}, label=LABEL),
])


def rec(teacher, loss, seed, value, dataset="egtea", status="ok", teacher_score=None):
    return {"status": status, "run_id": f"{dataset}{teacher}{loss}{seed}", "data_kind": "simulated",
            "error": "Boom: <x> & y",
            "cell": {"dataset": dataset, "teacher": teacher, "student": "gru", "loss": loss, "seed": seed,
                     "label": f"{dataset}/gru/{teacher}/{loss}/seed{seed}"},
            "metrics": {"top1_action": value, "top5_action": value + 10},
            "higher_is_better": {"top1_action": True, "top5_action": True},
            "teacher_metrics": {} if teacher == "none" else {"top1_action": teacher_score, "top5_action": 70.0}}


BASE = [20.0, 22.0, 21.0]
KL = [24.0, 25.0, 23.5]  # every seed up: paired p < 0.05
MSE = [21.0, 21.5, 22.0]


def records(shift=0.0):
    out = []
    for seed, (b, k, m) in enumerate(zip(BASE, KL, MSE)):
        out += [rec("none", "none", seed, b + shift), rec("t", "kl", seed, k + shift, teacher_score=50.0),
                rec("t", "mse", seed, m + shift, teacher_score=50.0),
                rec("none", "none", seed, b, dataset="epic55"), rec("t", "kl", seed, k - 1, dataset="epic55",
                                                                     teacher_score=30.0)]
    out.append(rec("t", "ce", 0, 0.0, status="failed"))
    return out


def board(recs=None):
    return leaderboard.build(records() if recs is None else recs, [TABLE], "top1_action")


def write(tmp_path, recs=None, stem="lb"):
    recs = records() if recs is None else recs
    return leaderboard.write(board(recs), tmp_path, stem, "Leaderboard: <test>", "bench run --matrix 'a&b'", recs)


def leftovers(root):
    return [name for _, _, files in os.walk(root) for name in files if name.endswith(".tmp")]


def test_writes_every_format_with_plots_next_to_the_page(tmp_path):
    paths = write(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "lb.md", "lb.csv", "lb.tex", "lb.html", "lb_files/relative_gain.png", "lb_files/teacher_vs_gain.png"]
    page = (tmp_path / "lb.html").read_text(encoding="utf-8")
    assert '<img src="lb_files/relative_gain.png"' in page and "<script" not in page and "http" not in page
    assert "Leaderboard: &lt;test&gt;" in page and "bench run --matrix &#x27;a&amp;b&#x27;" in page
    assert "AVT &amp; &lt;BERT&gt; #1_x" in page and "<BERT>" not in page
    assert "Someone &amp; Other &lt;2023&gt;" in page  # citation of the published table
    assert "Failed cells (1)" in page and "Boom: &lt;x&gt; &amp; y" in page
    assert "simulated" in page and "paired t-test" in page
    assert leftovers(tmp_path) == []


def test_per_seed_gains_pair_matching_seeds():
    summary = plots.summarize(board(), records())
    kl = summary[(summary.dataset == "egtea") & (summary.loss == "kl")].iloc[0]
    gains = [(k - b) / b * 100 for k, b in zip(KL, BASE)]
    mean = sum(gains) / 3
    std = (sum((g - mean) ** 2 for g in gains) / 2) ** 0.5
    assert kl["n"] == 3 and kl["gain"] == pytest.approx(mean) and kl["gain_std"] == pytest.approx(std)
    assert kl["teacher_score"] == 50.0
    assert len(summary) == 3  # egtea kl, egtea mse, epic55 kl; no-teacher and published rows are not plotted


def test_png_bytes_are_deterministic(tmp_path):
    summary = plots.summarize(board(), records())
    first = plots.plot_gains(summary, "top1_action")
    assert first == plots.plot_gains(summary, "top1_action")
    assert first.startswith(b"\x89PNG") and b"tIME" not in first and b"matplotlib" not in first
    write(tmp_path / "a")
    write(tmp_path / "b")
    for name in ("lb.html", "lb.tex", "lb_files/relative_gain.png", "lb_files/teacher_vs_gain.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_tex_escaping_and_booktabs_table():
    assert latex.tex_escape("a_b & 5% #1 ± Δ † ↑ ↓ {x} $") == (
        r"a\_b \& 5\% \#1 $\pm$ $\Delta$ $^\dagger$ $\uparrow$ $\downarrow$ \{x\} \$")
    tex = latex.render_latex(board(), "bench run --matrix x\nsecond line")
    lines = tex.splitlines()
    assert lines[0] == "% Produced by bench run --matrix x second line"
    assert lines[2].startswith(r"\begin{tabular}{llllll") and lines[2].endswith("r}")
    assert r"\toprule" in lines and r"\midrule" in lines and lines[-2:] == [r"\bottomrule", r"\end{tabular}"]
    assert r"egtea top1\_action $\uparrow$" in tex and r"egtea $\Delta$ top1\_action" in tex
    assert r"AVT \& \textless{}BERT\textgreater{} \#1\_x" in tex and r"$\pm$" in tex and r"\%" in tex
    body = lines[lines.index(r"\midrule") + 1:-2]
    rows = [line for line in body if line != r"\midrule"]
    wide = board().wide()
    assert len(rows) == len(wide) and all(len(r.removesuffix(r" \\").split(" & ")) == len(wide.columns) for r in rows)


def test_failed_plot_leaves_the_previous_page_and_no_temporary_file(tmp_path, monkeypatch):
    write(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    def boom(*args, **kwargs):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(plots, "plot_teacher_vs_gain", boom)
    with pytest.raises(RuntimeError, match="plotting failed"):
        write(tmp_path, records(shift=5.0))
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert leftovers(tmp_path) == []


def test_nothing_to_plot_is_said_on_the_page_and_old_plots_go(tmp_path):
    write(tmp_path)
    only_base = [r for r in records() if r["cell"]["teacher"] == "none"]
    paths = write(tmp_path, only_base)
    assert [p.name for p in paths] == ["lb.md", "lb.csv", "lb.tex", "lb.html"]
    assert not (tmp_path / "lb_files").exists()
    page = (tmp_path / "lb.html").read_text(encoding="utf-8")
    assert "No relative-gain plot" in page and "No teacher-accuracy plot" in page and "<img" not in page


def test_without_records_bars_come_from_the_table_and_the_scatter_is_skipped(tmp_path):
    paths = leaderboard.write(board(), tmp_path, "lb", "T", "cmd")
    assert [p.name for p in paths][-1] == "relative_gain.png"
    page = (tmp_path / "lb.html").read_text(encoding="utf-8")
    assert "per-seed values were not available" in page and "No teacher-accuracy plot" in page


@pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                    reason="needs /usr/bin/chromium and /usr/bin/chromedriver (Debian chromium, chromium-driver)")
def test_page_in_headless_chromium(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    write(tmp_path)
    expected = board().wide()
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(arg)
    options.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.get((tmp_path / "lb.html").as_uri())
        assert driver.title == "Leaderboard: <test>"
        headers = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "table.leaderboard thead th")]
        assert headers == list(expected.columns)
        assert "egtea p (paired t)" in headers and "epic55 rel. gain" in headers
        rows = driver.find_elements(By.CSS_SELECTOR, "table.leaderboard tbody tr")
        assert len(rows) == len(expected) == 5
        assert len(driver.find_elements(By.CSS_SELECTOR, "tr.baseline")) == 2  # ours and the published one
        significant = driver.find_elements(By.CSS_SELECTOR, "tr.significant")
        assert len(significant) == 1 and " kl " in f" {significant[0].text} "
        assert LABEL in [td.text for td in driver.find_elements(By.CSS_SELECTOR, "td")]
        style = driver.execute_script(
            "const th = document.querySelector('thead th'), td = document.querySelector('td.num');"
            "return [getComputedStyle(th).position, getComputedStyle(td).textAlign];")
        assert style == ["sticky", "right"]
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]);")
        assert len(images) == 2 and all(done and width > 0 for _, done, width in images), images
        shot = tmp_path / "leaderboard.png"
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 0
    finally:
        driver.quit()
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "leaderboard.png")
