"""`make load ENV=<env> USERS=n DURATION=s [ALLOW_PROD=yes]`: one load test from inside the environment's cluster.

The cluster's API is private, so the Job is created the way every manifest of the platform is: by CloudFormation
through the cluster's kubectl provider, in a deploy of the Services stack that asks for it
(``-c load=<run id>:<users>:<seconds>``, config/load_test.py; cdk_constructs/load_generator.py). Steps:

1. refuse prod unless ``--allow-prod``; refuse an environment without a load pool;
2. refuse when this checkout's Services template (without the Job) differs from the one deployed: the deploy must
   add the Job and nothing else, never roll out other code than the pipeline did;
3. deploy the Services stack with the Job (the caller's AWS credentials, as for `make wake`);
4. wait for the run's results in the operations bucket (``load/<run id>/results.json``) and print the report;
5. deploy the Services stack again without the Job, which removes it and its namespace, role and service account.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from config.environment import ConfigError, EnvironmentConfig
from config.environments import load
from config.load_test import LoadTestRun, parse

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules/.bin/cdk"


class LoadJobError(RuntimeError):
    """Why the load test cannot run, in one line."""


def output(cloudformation: Any, stack: str, key: str) -> str:
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    found = [o["OutputValue"] for o in outputs if o["OutputKey"] == key]
    if not found:
        raise LoadJobError(f"{stack} has no output {key}: deploy the Observability stack of this change first")
    return str(found[0])


def check_deployed_matches(cloudformation: Any, stack: str, synthesized: dict[str, Any]) -> None:
    deployed = cloudformation.get_template(StackName=stack, TemplateStage="Original")["TemplateBody"]
    if isinstance(deployed, str):
        deployed = json.loads(deployed)
    if deployed != synthesized:
        changed = sorted(k for k in {**deployed.get("Resources", {}), **synthesized.get("Resources", {})}
                         if deployed.get("Resources", {}).get(k) != synthesized.get("Resources", {}).get(k))
        raise LoadJobError(f"this checkout's {stack} differs from the deployed one ({len(changed)} resources, e.g. "
                           f"{', '.join(changed[:3])}): check out the deployed commit so that the load test's deploy "
                           "adds the Job and nothing else")


def deploy_command(config: EnvironmentConfig, run: LoadTestRun | None, outdir: Path) -> list[str]:
    command = [str(CDK), "deploy", f"{config.stack_prefix}-Services", "--exclusively", "--require-approval",
               "never", "--output", str(outdir), "-c", f"env={config.name}", "-c", "delivery=exclude"]
    if run is not None:
        command += ["-c", f"load={run.context_value()}"]
    return command


def synth_services(config: EnvironmentConfig, outdir: Path) -> dict[str, Any]:
    subprocess.run([str(CDK), "synth", "--quiet", "-c", f"env={config.name}", "-c", "delivery=exclude",  # noqa: S603
                    "--output", str(outdir)], cwd=ROOT, check=True)
    data: dict[str, Any] = json.loads((outdir / f"{config.stack_prefix}-Services.template.json").read_text())
    return data


def wait_for_results(s3: Any, bucket: str, key: str, timeout: float, poll: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            result: dict[str, Any] = json.loads(body)
            return result
        except s3.exceptions.NoSuchKey:
            if time.monotonic() > deadline:
                raise LoadJobError(f"no results at s3://{bucket}/{key} after {timeout:.0f} s: see the Job's pod "
                                   "logs (/aws/containerinsights/<cluster>/application, namespace load)") from None
            time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.ops.load_job", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--duration", type=int, required=True, help="seconds")
    parser.add_argument("--allow-prod", action="store_true")
    args = parser.parse_args(argv)
    try:
        config = load(args.env)
        run = parse(f"{time.strftime('%Y%m%d-%H%M%S')}:{args.users}:{args.duration}"
                    + (":allow-prod" if args.allow_prod else ""), config)
        assert run is not None
    except ConfigError as err:
        print(f"load: {err}", file=sys.stderr)
        return 2
    import boto3

    from cdk_constructs.load_generator import results_key
    from tools.load.__main__ import report

    session = boto3.session.Session(region_name=config.region)
    cloudformation, s3 = session.client("cloudformation"), session.client("s3")
    out = ROOT / "cdk.out" / "load"
    try:
        check_deployed_matches(cloudformation, f"{config.stack_prefix}-Services",
                               synth_services(config, out / "assembly"))
        bucket = output(cloudformation, f"{config.stack_prefix}-Observability", "OperationsBucketName")
        subprocess.run(deploy_command(config, run, out / "assembly-job"), cwd=ROOT, check=True)  # noqa: S603
        try:
            results = wait_for_results(s3, bucket, results_key(run.run_id), timeout=run.seconds + 1200)
        finally:
            subprocess.run(deploy_command(config, None, out / "assembly"), cwd=ROOT, check=True)  # noqa: S603
    except LoadJobError as err:
        print(f"load: {err}", file=sys.stderr)
        return 1
    path = out / f"{config.name}-{run.run_id}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
