"""One generated password per user, in Secrets Manager."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.acknowledge import acknowledge
from workbench.config import WorkbenchConfig

PASSWORD_LENGTH = 24


class UserPasswords(Construct):
    """A secret per user, named `config.password_secret(user)`: provision.sh reads each one once
    and pipes it to chpasswd; an admin prints one with the PasswordCommand output. `reader` (the
    instance's role) may read these secrets and no other."""

    def __init__(
        self, scope: Construct, id_: str, *, config: WorkbenchConfig, reader: iam.IGrantable
    ) -> None:
        super().__init__(scope, id_)
        self.secrets: dict[str, secretsmanager.Secret] = {}
        for user in config.users:
            # The construct ID is the user: a user's secret (and password) never changes when
            # others are added or removed. A fixed name can come back: CloudFormation deletes a
            # secret without a recovery window (cloudformation-coverage-roadmap #1999), so a
            # user removed and added again, or a stack destroyed and deployed again, gets a new
            # secret under the same name.
            secret = secretsmanager.Secret(
                self,
                user,
                secret_name=config.password_secret(user),
                description=f"Workbench password of {user} (JupyterHub and RStudio)",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    password_length=PASSWORD_LENGTH, exclude_punctuation=True
                ),
            )
            secret.grant_read(reader)
            acknowledge(
                secret,
                nag=["AwsSolutions-SMG4"],
                reason="The secret is a Linux login password set once at provisioning; "
                "automatic rotation would need a Lambda on the instance's network and would "
                "desynchronise it from the user's password. Users change it with passwd.",
            )
            acknowledge(
                secret,
                checkov=["CKV_AWS_149"],
                reason="Encrypted with Secrets Manager's AWS-managed key: only this account's "
                "principals with secretsmanager:GetSecretValue on it (the instance role, admins) "
                "can read it. A customer-managed key would add US$1 a month and a key policy per "
                "stack and protect a password read once, at provisioning, no better.",
            )
            self.secrets[user] = secret
