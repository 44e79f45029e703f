"""The stack's outputs, described without CDK so that tools can read them back by name.

The stack renders each spec with deploy-time values (CloudFormation tokens); `doctor` and local
mode read the same names from `describe_stacks`.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.config import WorkbenchConfig
from workbench.services import (
    SSH_USER,
    Service,
    certificate_names,
    public_services,
    services,
    ssh_tunnel,
)


@dataclass(frozen=True, kw_only=True)
class OutputSpec:
    name: str
    description: str
    template: str
    """`str.format` template over: ip, dns, instance_id, security_group_id, region, key_pair_id,
    home_volume_id."""

    def render(self, values: dict[str, str | None]) -> str:
        return self.template.format(**values)


def key_file(config: WorkbenchConfig) -> str:
    return f"{config.key_name or config.stack_name}.pem"


def url_output_name(service: Service) -> str:
    return f"{service.name.capitalize()}Url"


def tunnel_output_name(service: Service) -> str:
    return f"{service.name.capitalize()}Tunnel"


def _tunnel(config: WorkbenchConfig, service: Service) -> str:
    if config.ssh_open:
        return ssh_tunnel(service.port, "{ip}", key_file=key_file(config))
    # Port 22 is closed: Session Manager forwards the port instead.
    return (
        "aws ssm start-session --region {region} --target {instance_id} "
        "--document-name AWS-StartPortForwardingSession "
        f"--parameters portNumber={service.port},localPortNumber={service.port}"
    )


def web_origin(config: WorkbenchConfig) -> str:
    """Where browsers go, as a `str.format` template: http://{ip} by default; with HTTPS the
    name on the certificate (the address, or the domain)."""
    if not config.https_on:
        return "http://{ip}"
    (name,) = certificate_names(config, address="{ip}")
    return f"https://{name}"


def password_command(config: WorkbenchConfig) -> str:
    """A command that prints the password of the user named as its argument: `<command> alice`.
    The secret's name is derived from the stack and the user (WorkbenchConfig.password_secret)."""
    secret = config.password_secret("$1")
    return (
        "sh -c 'aws secretsmanager get-secret-value --region {region} "
        f'--secret-id "{secret}" --query SecretString --output text\' password-of'
    )


def output_specs(config: WorkbenchConfig) -> tuple[OutputSpec, ...]:
    origin = web_origin(config)
    specs = [
        OutputSpec(
            name="LandingUrl",
            description="The workbench's landing page",
            template=f"{origin}/",
        )
    ]
    specs += [
        OutputSpec(
            name=url_output_name(s),
            description=f"{s.title} through NGINX",
            template=f"{origin}{s.location}",
        )
        for s in public_services(config)
    ]
    if config.domain:
        specs.append(
            OutputSpec(
                name="DnsRecord",
                description=(
                    f"The A record in hosted zone {config.hosted_zone_id} (created by the stack)"
                    if config.hosted_zone_id
                    else "Create this A record at your DNS provider before the first deploy "
                    "completes: Let's Encrypt resolves the name to validate it"
                ),
                template=f"{config.domain} A {{ip}}",
            )
        )
    specs += [
        OutputSpec(
            name="PublicIp",
            description="The workbench's Elastic IP: the same across stops, starts and "
            "replacements",
            template="{ip}",
        ),
        OutputSpec(
            name="PublicDns", description="The Elastic IP's public DNS name", template="{dns}"
        ),
        OutputSpec(name="InstanceId", description="The EC2 instance", template="{instance_id}"),
        OutputSpec(
            name="SecurityGroupId",
            description="The security group (the firewall in front of the instance)",
            template="{security_group_id}",
        ),
        OutputSpec(
            name="SshCommand",
            description="Log in to the instance",
            template=(
                f"ssh -i {key_file(config)} {SSH_USER}@{{ip}}"
                if config.ssh_open
                else "aws ssm start-session --region {region} --target {instance_id}"
            ),
        ),
    ]
    specs += [
        OutputSpec(
            name=tunnel_output_name(s),
            description=f"Reach {s.title} on localhost:{s.port} around the proxy",
            template=_tunnel(config, s),
        )
        for s in services(config)
    ]
    specs += [
        OutputSpec(
            name="LoginUser",
            description="The users of JupyterHub and RStudio (admins: "
            f"{', '.join(config.admin_users) or 'none'})",
            template=",".join(config.users),
        ),
        OutputSpec(
            name="PasswordCommand",
            description="Print a user's password: run it with the user's name after it "
            f"(e.g. ... password-of {config.users[0]})",
            template=password_command(config),
        ),
    ]
    specs += [
        OutputSpec(
            name="HomeVolumeId",
            description="The volume that holds /home; `cdk destroy` leaves a snapshot of it",
            template="{home_volume_id}",
        ),
        OutputSpec(
            name="StartCommand",
            description="Start the instance after an idle stop (or after a failed replacement "
            "that did not hand back): it takes /home and its address back at boot",
            template=(
                "aws ec2 start-instances --region {region} --instance-ids {instance_id} "
                "&& aws ec2 wait instance-running --region {region} --instance-ids {instance_id}"
            ),
        ),
    ]
    if config.key_name is None:
        pem = key_file(config)
        specs.append(
            OutputSpec(
                name="KeyCommand",
                description="Save the generated SSH private key to a file",
                template=(
                    "aws ssm get-parameter --region {region} --name /ec2/keypair/{key_pair_id} "
                    f"--with-decryption --query Parameter.Value --output text > {pem} "
                    f"&& chmod 400 {pem}"
                ),
            )
        )
    return tuple(specs)
