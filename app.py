#!/usr/bin/env python3
"""CDK entry point: read the context, validate it once, render the bundle, build the stack."""

import os
import sys
import tempfile
from pathlib import Path

from workbench.config import ConfigError, cdk_json_context, check_known_keys, load_config
from workbench.toolchain import use_project_node

HERE = Path(__file__).resolve().parent


def _app():
    from aws_cdk import App

    if "CDK_OUTDIR" in os.environ:
        return App()  # run by the CDK CLI, which passes cdk.json and -c values itself
    # Run by hand (`python app.py`): read cdk.json's context as the CLI would, write to cdk.out.
    return App(outdir=str(HERE / "cdk.out"), context=cdk_json_context())


def main() -> int:
    # jsii starts its Node process on the first aws_cdk import: the project's Node, not the
    # machine's (which may be one jsii no longer supports).
    use_project_node()
    from stacks.build import add_image, add_workbench
    from workbench.image import install_config
    from workbench.render import render_bundle

    app = _app()
    try:
        # Every key, from cdk.json (as written: jsii drops keys whose value is null) and -c.
        check_known_keys([*cdk_json_context(HERE), *app.node.get_all_context()])
        config = load_config(app.node.try_get_context)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # The asset is exactly the directory render_bundle wrote; CDK copies it into cdk.out.
    with tempfile.TemporaryDirectory(prefix="workbench-bundle-") as tmp:
        bundle = render_bundle(config, Path(tmp) / "bundle")
        add_workbench(app, config, bundle_dir=bundle)
        # Always synthesized beside it; deployed only by `make image` (stacks/build.py). Its
        # bundle depends on no configure-only value, so neither does the image's version.
        image_bundle = render_bundle(install_config(config), Path(tmp) / "image-bundle")
        add_image(app, config, bundle_dir=image_bundle)
        try:
            app.synth()
        except RuntimeError as error:
            if "ValidationFailed" not in str(error):
                raise
            # The report above names each finding; a traceback would only bury it.
            print(
                "error: synth stopped on the policy findings above (cdk-nag, CloudFormation "
                "Validate): fix each one or acknowledge it with a reason",
                file=sys.stderr,
            )
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
