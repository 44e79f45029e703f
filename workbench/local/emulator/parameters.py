"""SSM parameters put into moto's store directly (moto refuses put_parameter under /aws/*)."""

from __future__ import annotations

import datetime


def ssm_parameter(account: str, name: str, value: str, type_: str, data_type: str):
    from moto.ssm.models import Parameter

    return Parameter(
        account_id=account,
        name=name,
        value=value,
        parameter_type=type_,
        description="seeded by workbench.local.emulator",
        allowed_pattern=None,
        keyid=None,
        last_modified_date=datetime.datetime.now(datetime.UTC),
        version=1,
        data_type=data_type,
    )
