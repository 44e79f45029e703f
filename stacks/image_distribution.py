"""The distribution: the new AMI in this region, its ID published to the workbench's parameter."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_imagebuilder as imagebuilder
from constructs import Construct

from workbench.config import WorkbenchConfig
from workbench.image import published_parameter, resource_name

_Distribution = imagebuilder.CfnDistributionConfiguration
# EC2 validates an aws:ec2:image parameter's value as an AMI ID, and EC2's `resolve:ssm:` at
# launch reads parameters of this type.
PARAMETER_DATA_TYPE = "aws:ec2:image"


class ImageDistribution(Construct):
    """Image Builder writes the AMI's ID into `parameter` (creating it the first time) once the
    AMI exists: the workbench stack launches from whatever it holds at launch time. The
    parameter is Image Builder's, not CloudFormation's: a stack update never rewrites it, and it
    outlives the image stack (README: going back to stock)."""

    def __init__(self, scope: Construct, id_: str, *, config: WorkbenchConfig) -> None:
        super().__init__(scope, id_)
        self.parameter = published_parameter(config)
        self.configuration = _Distribution(
            self,
            "Configuration",
            name=resource_name(config, "distribution"),
            description=f"Workbench AMI, ID published to {self.parameter}",
            distributions=[
                _Distribution.DistributionProperty(
                    region=Aws.REGION,
                    # A JSON property in CloudFormation's schema: CDK passes it as it is, so
                    # its keys are spelled as CloudFormation spells them.
                    ami_distribution_configuration={
                        # AMI names are unique per account and region: the build date makes them
                        # so.
                        "Name": f"{config.stack_name}-workbench-{{{{ imagebuilder:buildDate }}}}",
                        "Description": f"Workbench on Ubuntu {config.ubuntu_release} (install "
                        "phase baked)",
                        "AmiTags": {"workbench:stack": config.stack_name},
                    },
                    ssm_parameter_configurations=[
                        _Distribution.SsmParameterConfigurationProperty(
                            parameter_name=self.parameter, data_type=PARAMETER_DATA_TYPE
                        )
                    ],
                )
            ],
        )
        self.arn = self.configuration.attr_arn
