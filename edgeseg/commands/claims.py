"""`edgeseg claims`: check the papers' claims against committed results and write benchmarks/CLAIMS.md."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from edgeseg.errors import EdgesegError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "claims", help="check the papers' claims against committed results (writes CLAIMS.md)",
        description="Build the claims report from results files only (no measurement is made): "
                    "models table and edgeseg-bench/1 JSON files (static counts, speed) and the training campaign "
                    "folder (trained accuracy, default RESULTS/campaign).")
    p.add_argument("--results", default="benchmarks/results", help="folder of results JSON files")
    p.add_argument("--out", default="benchmarks/CLAIMS.md", help="markdown report to write ('-' for stdout only)")
    p.add_argument("--campaign", default=None, metavar="DIR",
                   help="training campaign folder (default: RESULTS/campaign); trained accuracy is read only here")
    p.add_argument("--plots", default=None, metavar="DIR", help="also write plots here (needs matplotlib)")
    p.add_argument("--papers", default=None, metavar="DIR", help="claims files to use instead of the packaged ones")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgeseg.study.claims.catalog import load_papers
    from edgeseg.study.claims.document import build_report, render_markdown, short_table

    parts = ["edgeseg", "claims", "--results", args.results, "--out", args.out]
    if args.campaign:
        parts += ["--campaign", args.campaign]
    if args.plots:
        parts += ["--plots", args.plots]
    if args.papers:
        parts += ["--papers", args.papers]
    command = shlex.join(parts)
    if not Path(args.results).is_dir():
        # A typo here would otherwise yield a report where every claim is "not testable".
        raise EdgesegError(f"{args.results}: no such results folder; pass --results DIR (default benchmarks/results)")
    papers = load_papers(args.papers)
    to_stdout = args.out == "-"
    if args.campaign and not Path(args.campaign).is_dir():
        raise EdgesegError(f"{args.campaign}: no such campaign folder; pass --campaign DIR (default RESULTS/campaign)")
    rows = build_report(args.results, None if to_stdout else args.out, command=command, papers=papers,
                        campaign=args.campaign)
    if to_stdout:
        print(render_markdown(rows, args.results, command, papers, args.campaign), end="")
    else:
        summary = [{"id": r.id, "paper": r.paper_figure, "ours": r.ours, "verdict": r.verdict} for r in rows]
        print(short_table(summary))
        print(f"wrote {args.out}")
    if args.plots:
        from edgeseg.study.campaign_results import load_campaign
        from edgeseg.study.claims.checks import default_campaign_dir
        from edgeseg.study.claims.evidence import load_evidence
        from edgeseg.study.claims.plots import make_plots

        camp = load_campaign(args.campaign or default_campaign_dir(args.results))
        for path in make_plots(load_evidence(args.results), args.plots, camp):
            print(f"wrote {path}")
    return 0
