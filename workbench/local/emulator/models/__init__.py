"""The emulated CloudFormation models: one small class per AWS type that moto lacks or models too
loosely. Importing this package defines them, which registers them with moto (moto finds models
among `CloudFormationModel`'s subclasses); `workbench.local.emulator.register_missing_models`
does that once."""

from workbench.local.emulator.models.address import EmulatedAddress
from workbench.local.emulator.models.alarm import EmulatedAlarm
from workbench.local.emulator.models.association import EmulatedAssociation
from workbench.local.emulator.models.distribution_configuration import (
    EmulatedDistributionConfiguration,
)
from workbench.local.emulator.models.image import EmulatedImage
from workbench.local.emulator.models.image_component import EmulatedComponent
from workbench.local.emulator.models.image_recipe import EmulatedImageRecipe
from workbench.local.emulator.models.infrastructure_configuration import (
    EmulatedInfrastructureConfiguration,
)
from workbench.local.emulator.models.instance import EmulatedInstance
from workbench.local.emulator.models.key_pair import EmulatedKeyPair
from workbench.local.emulator.models.lifecycle_policy import EmulatedLifecyclePolicy
from workbench.local.emulator.models.secret import EmulatedSecret
from workbench.local.emulator.models.volume import EmulatedVolume
from workbench.local.emulator.models.volume_attachment import EmulatedVolumeAttachment
from workbench.local.emulator.models.wait_condition import (
    EmulatedWaitCondition,
    EmulatedWaitConditionHandle,
)

MODELS = (
    EmulatedSecret,
    EmulatedKeyPair,
    EmulatedAlarm,
    EmulatedAddress,
    EmulatedInstance,
    EmulatedAssociation,
    EmulatedVolume,
    EmulatedVolumeAttachment,
    EmulatedWaitConditionHandle,
    EmulatedWaitCondition,
    EmulatedComponent,
    EmulatedImageRecipe,
    EmulatedInfrastructureConfiguration,
    EmulatedDistributionConfiguration,
    EmulatedLifecyclePolicy,
    EmulatedImage,
)
