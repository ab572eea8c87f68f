"""`edgeseg campaign plan|run|status|summary PLAN.toml`: a training campaign from a plan file (edgeseg.study)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("campaign", help="train a campaign (networks x sets x seeds) from a plan file, on Ray",
                       description="A campaign is a TOML plan (edgeseg/study/plan.py documents it; shipped: "
                                   "edgeseg/study/plans/claims.toml, papers-budget.toml). plan: list the runs and "
                                   "their state; run: train + score the runs not done (Ray tasks; a local Ray "
                                   "instance without --address; in-process one by one without Ray); status: "
                                   "counts per variant; summary: mean val/test Dice per variant.")
    p.add_argument("action", choices=["plan", "run", "status", "summary"])
    p.add_argument("plan", metavar="PLAN.toml")
    p.add_argument("--address", help="ray://HOST:PORT or auto (an existing cluster); default: a local Ray "
                                     "instance sized to this machine")
    p.add_argument("--gpus-per-run", type=float, default=0, help="GPUs each run asks for (default 0: CPU)")
    p.add_argument("--cpus-per-run", type=int, default=1, help="CPUs each run asks for = its torch threads "
                                                               "(default 1)")
    p.add_argument("--sets", nargs="+", help="only these data sets")
    p.add_argument("--networks", nargs="+", help="only these networks (the plan's [networks] names)")
    p.add_argument("--runs", nargs="+", metavar="SET/VARIANT/fF-sS", dest="only", help="only these runs")
    p.add_argument("--results", help="results folder (default: the plan's `results`)")
    p.add_argument("--checkpoints", help="checkpoint folder (default: the plan's `runs`)")
    p.add_argument("--no-ray", action="store_true", help="run one by one in this process even if Ray is installed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from edgeseg.study.plan import load_plan
    from edgeseg.study.status import plan_lines, status_lines, summary_lines

    plan = load_plan(args.plan, results=args.results, runs=args.checkpoints)
    jobs = plan.jobs(args.sets, args.networks, args.only)
    if args.action == "summary":
        print("\n".join(summary_lines(plan)))
    elif args.action == "status":
        print("\n".join(status_lines(plan, jobs)))
    elif args.action == "plan":
        print("\n".join(plan_lines(plan, jobs)))
    else:
        from edgeseg.study.execute import run_plan, summary_line

        states = run_plan(plan, jobs, address=args.address, cpus_per_run=args.cpus_per_run,
                          gpus_per_run=args.gpus_per_run, use_ray=False if args.no_ray else None,
                          argv=["edgeseg", *sys.argv[1:]] if sys.argv[0].endswith(("edgeseg", "__main__.py"))
                          else None)
        print(summary_line(states))
    return 0
