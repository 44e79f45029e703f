"""The server: one Ubuntu instance that provisions itself from the rendered bundle."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.acknowledge import acknowledge
from stacks.instance_role import bundle_instance_role
from stacks.machine_image import acknowledge_image_id, machine_image
from workbench.config import WorkbenchConfig
from workbench.deployment import BOOTSTRAP_PATH
from workbench.image import provision_phase
from workbench.render import PROVISION_LOCK, render_text

ROOT_DEVICE = "/dev/sda1"  # Ubuntu's AMIs name the root device this way
# Readable, stable logical IDs: renaming a construct must never replace the server.
INSTANCE_LOGICAL_ID = "WorkbenchInstance"

# cloud-init runs user-data scripts once per instance, but the bootstrap must run at every boot:
# after a stop and start (the idle stop, a new instance type, a changed bootstrap), a recovery
# or a reboot it provisions again, and the identity step takes /home and the address back if
# they moved. AWS's documented remedy, a cloud-config part that makes the
# scripts-user module run on every boot: https://repost.aws/knowledge-center/execute-user-data-ec2
# ("How can I use user data to automatically run a script with every restart of my Amazon EC2
# Linux instance?"). This list takes the place of the image's whole list of final-stage modules
# (cloud-init does not merge lists into its own config), so it keeps, in the image's order, those
# that act without further cloud-config: the per-once/boot/instance script directories, and the
# SSH key fingerprints on the console, which is how a user can check the host key at the first
# SSH connection. The rest of Ubuntu's list (package upgrades, puppet, chef, phone-home,
# power-state-change, ...) acts only when the cloud-config asks for it, and this one does not.
PER_BOOT_CLOUD_CONFIG = """#cloud-config
cloud_final_modules:
- scripts-vendor
- scripts-per-once
- scripts-per-boot
- scripts-per-instance
- [scripts-user, always]
- ssh-authkey-fingerprints
- keys-to-console
- final-message
"""
# Plain 7-bit text parts (no base64): the user data stays readable in the console and small.
CLOUD_CONFIG_TYPE = 'text/cloud-config; charset="us-ascii"'
SHELL_SCRIPT_TYPE = 'text/x-shellscript; charset="us-ascii"'


class WorkbenchServer(Construct):
    """The instance and its role (which reads the bundle asset; stacks/passwords.py lets it read
    the users' passwords)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: WorkbenchConfig,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        bundle: s3_assets.Asset,
        parameter_name: str,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)

        self.bundle = bundle
        self.role = bundle_instance_role(
            self,
            description="Workbench instance: Session Manager, read its deployment, bundle and "
            "users' passwords, take over its /home volume and address",
            bundle=bundle,
            agent_use="Session Manager, the way in when port 22 is closed",
            reader="the instance",
        )

        if config.key_name is not None:
            self.key_pair: ec2.IKeyPair = ec2.KeyPair.from_key_pair_name(
                self, "KeyPair", config.key_name
            )
            self.generated_key: ec2.KeyPair | None = None
        else:
            # The private key is kept in SSM Parameter Store (/ec2/keypair/<id>); an output
            # prints the command that saves it to a .pem file.
            self.generated_key = ec2.KeyPair(
                self, "KeyPair", key_pair_name=f"{config.stack_name}-key"
            )
            self.key_pair = self.generated_key

        # Instead of CDK's require_imdsv2 (an aspect that adds its own launch template at synth):
        # this one also carries the automatic-recovery switch, and it exists from construction
        # on, so that the readiness revision sees it (stacks/readiness.py).
        self.launch_template = ec2.CfnLaunchTemplate(
            self,
            "LaunchTemplate",
            launch_template_data=ec2.CfnLaunchTemplate.LaunchTemplateDataProperty(
                metadata_options=ec2.CfnLaunchTemplate.MetadataOptionsProperty(
                    http_tokens="required", http_endpoint="enabled"
                ),
                # EC2's simplified automatic recovery (its default, stated): after a host
                # failure the instance comes back on other hardware with its ID, volumes and
                # Elastic IP (stacks/recovery.py adds the alarm).
                maintenance_options=ec2.CfnLaunchTemplate.MaintenanceOptionsProperty(
                    auto_recovery="default"
                ),
            ),
        )
        self.instance = ec2.Instance(
            self,
            "Instance",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_group=security_group,
            instance_type=ec2.InstanceType(config.instance_type),
            machine_image=machine_image(config),
            role=self.role,
            key_pair=self.key_pair,
            # The Elastic IP replaces this address once the identity step associates it; until
            # then the instance needs one to install packages and reach the AWS APIs.
            associate_public_ip_address=True,
            block_devices=[
                ec2.BlockDevice(
                    device_name=ROOT_DEVICE,
                    volume=ec2.BlockDeviceVolume.ebs(
                        config.root_volume_gb,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        encrypted=True,
                        delete_on_termination=True,
                    ),
                )
            ],
            user_data=self._user_data(
                region=stack.region,
                stack=stack.stack_name,
                parameter=parameter_name,
                phase=provision_phase(config),
            ),
        )
        cfn_instance = self.instance.node.default_child
        cfn_instance.override_logical_id(INSTANCE_LOGICAL_ID)
        cfn_instance.launch_template = ec2.CfnInstance.LaunchTemplateSpecificationProperty(
            launch_template_id=self.launch_template.ref,
            version=self.launch_template.attr_latest_version_number,
        )
        # No CreationPolicy: the instance completes once it runs; `cdk deploy` waits on
        # stacks/readiness.py's wait condition instead.

        acknowledge_image_id(cfn_instance, config)
        acknowledge(
            self.instance,
            checkov=["CKV_AWS_88"],
            reason="The instance serves the web itself and, with no NAT gateway (about US$32 "
            "a month), reaches the AWS APIs and package mirrors over its public IPv4 from the "
            "first boot, before its identity step moves the Elastic IP to it. The security "
            "group opens 80 (443 with https) and 22 per ssh_cidr only.",
        )
        acknowledge(
            self.instance,
            reason="Detailed (1-minute) monitoring costs extra for a single workbench; the "
            "5-minute basic metrics are enough for the idle stop.",
            nag=["AwsSolutions-EC28"],
        )
        acknowledge(
            self.instance,
            reason="A single instance by design; termination protection would make "
            "`cdk destroy` fail. Users' files live on their own volume, which is kept.",
            nag=["AwsSolutions-EC29"],
        )

    def _user_data(self, **values: str | None) -> ec2.MultipartUserData:
        """Installs the bootstrap and runs it, on every boot. Nothing in it changes with a deploy
        (the deployment is read from its parameter), so a new bundle never restarts the
        instance."""
        bootstrap = render_text("bootstrap.sh.j2", lock_file=PROVISION_LOCK, **values)
        script = render_text("user-data.sh.j2", bootstrap=bootstrap, bootstrap_path=BOOTSTRAP_PATH)
        user_data = ec2.MultipartUserData()
        user_data.add_part(
            ec2.MultipartBody.from_raw_body(
                content_type=CLOUD_CONFIG_TYPE, body=PER_BOOT_CLOUD_CONFIG
            )
        )
        user_data.add_part(
            ec2.MultipartBody.from_raw_body(content_type=SHELL_SCRIPT_TYPE, body=script)
        )
        return user_data
