"""CloudFormation's stack update, in the order AWS documents, for the emulator.

moto's own update is not CloudFormation's: it deletes removed resources first, then adds, then
modifies in no particular order, retrying on errors, and a resource without an update method
(AWS::EC2::Instance) is not updated at all. A replacement, the one change this project must get
right, never happens. This engine does what CloudFormation's documentation says
("Update behaviors of stack resources", "Monitor stack progress"):

1. Every resource of the new template, in dependency order (DependsOn, Ref, Fn::GetAtt, Fn::Sub):
   a new one is created; a changed one (its properties, resolved, differ from what they were:
   a reference to a replaced resource counts) is updated in place or, when the change is to a
   property that requires it (the model's `replaces`), replaced: the new physical resource is
   created first, and everything after it in the order sees the new one.
2. If anything fails (EC2 refusing an attach, a wait condition's FAILURE signal or timeout), the
   update rolls back: resources updated in place are updated back, references return to the old
   physical resources, then the new ones (created, or created as replacements) are deleted. The
   stack ends UPDATE_ROLLBACK_COMPLETE, with the old template; the old resources were never
   touched by CloudFormation itself.
3. Otherwise the cleanup phase deletes the old physical resources of replacements and the
   resources the new template no longer has (DeletionPolicy / UpdateReplacePolicy Retain keeps
   them), in reverse dependency order, and the stack is UPDATE_COMPLETE.

A failed create rolls back likewise (ROLLBACK_COMPLETE). Events are recorded per resource, with
the failure's reason, as `describe_stack_events` shows them on AWS.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable

from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import Event, Stack
from moto.ec2.models import ec2_backends
from moto.ec2.models.core import TaggedEC2Resource

_SUB_NAMES = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9]+)?\}")
_RETAIN = "Retain"


class UpdateFailed(Exception):
    def __init__(self, logical_id: str, action: str, reason: str) -> None:
        super().__init__(f"{logical_id}: {reason}")
        self.logical_id = logical_id
        self.action = action
        self.reason = reason


def references(value: object) -> set[str]:
    """Logical IDs and parameters a template value refers to."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= set(_SUB_NAMES.findall(text))
                if isinstance(inner, list) and len(inner) > 1:
                    found |= references(inner[1])
            else:
                found |= references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    return found


def dependencies(resources: dict, logical_id: str) -> set[str]:
    resource = resources[logical_id]
    depends = resource.get("DependsOn", [])
    depends = [depends] if isinstance(depends, str) else list(depends)
    refs = references(resource.get("Properties", {}))
    return {name for name in (*depends, *refs) if name in resources and name != logical_id}


def dependency_order(resources: dict) -> list[str]:
    """Every logical ID after the ones it depends on (template order among equals)."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise ValueError(f"Circular dependency between resources: {[*path, name]}")
        state[name] = "visiting"
        for dependency in sorted(dependencies(resources, name), key=list(resources).index):
            visit(dependency, (*path, name))
        state[name] = "done"
        order.append(name)

    for name in resources:
        visit(name, ())
    return order


def _resolve(properties: dict, resource_map) -> dict:
    return parsing.clean_json(copy.deepcopy(properties), resource_map)


def _event(
    stack: Stack,
    logical_id: str,
    physical_id: str,
    type_: str,
    status: str,
    reason: str | None = None,
) -> None:
    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id=physical_id,
            resource_type=type_,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


def _physical(resource: object) -> str:
    return str(getattr(resource, "physical_resource_id", "") or "")


def _tag(stack: Stack, logical_id: str, resource: object) -> None:
    """CloudFormation's own tags on the EC2 resources it creates (moto's create does the same)."""
    if isinstance(resource, TaggedEC2Resource):
        tags = {
            **stack.tags,
            "aws:cloudformation:stack-name": stack.name,
            "aws:cloudformation:stack-id": stack.stack_id,
            "aws:cloudformation:logical-id": logical_id,
        }
        ec2_backends[stack.account_id][stack.region_name].create_tags(
            [resource.physical_resource_id], tags
        )


def _create(stack: Stack, logical_id: str, resource_json: dict) -> object:
    resource_map = stack.resource_map
    resource = parsing.parse_and_create_resource(
        logical_id, resource_json, resource_map, stack.account_id, stack.region_name
    )
    if resource is not None:
        resource_map._parsed_resources[logical_id] = resource
        _tag(stack, logical_id, resource)
    return resource


def _implements(model: type, hook: str) -> bool:
    """Whether `model` has its own `hook` (not CloudFormationModel's abstract placeholder)."""
    return not hasattr(getattr(model, hook), "__isabstractmethod__")


def _delete(stack: Stack, resource: object, resource_json: dict) -> None:
    model = parsing.resource_class_from_type(resource_json["Type"])
    if model is None or resource is None:
        return
    if _implements(model, "delete_from_cloudformation_json"):
        model.delete_from_cloudformation_json(
            _physical(resource), resource_json, stack.account_id, stack.region_name
        )
    elif hasattr(resource, "delete"):
        resource.delete(stack.account_id, stack.region_name)


def _delete_quietly(stack: Stack, name: str, resource: object, resource_json: dict) -> None:
    """A rollback's deletion: what cannot go (moto's dependency checks) is left, as AWS leaves a
    DELETE_FAILED resource, and the rollback goes on."""
    try:
        _delete(stack, resource, resource_json)
    except Exception as error:
        _event(stack, name, _physical(resource), resource_json["Type"], "DELETE_FAILED", str(error))


def _update_in_place(
    stack: Stack, logical_id: str, resource: object, old: dict, new: dict, resource_json: dict
) -> object | None:
    """The model's in-place update; None when it has none (the caller replaces instead)."""
    model = parsing.resource_class_from_type(resource_json["Type"])
    if hasattr(model, "update_in_place"):
        updated = model.update_in_place(resource, old, new, stack.account_id, stack.region_name)
        updated.cf_resource_type = resource_json["Type"]
        updated.logical_resource_id = logical_id
        return updated
    if _implements(model, "update_from_cloudformation_json"):
        return parsing.parse_and_update_resource(
            logical_id, resource_json, stack.resource_map, stack.account_id, stack.region_name
        )
    return None


def _updatable(resource_json: dict) -> bool:
    """Whether the model can update a resource at all (if not, any change replaces it)."""
    model = parsing.resource_class_from_type(resource_json["Type"])
    return hasattr(model, "update_in_place") or _implements(
        model, "update_from_cloudformation_json"
    )


def _replaces(resource_json: dict, old: dict, new: dict) -> bool:
    model = parsing.resource_class_from_type(resource_json["Type"])
    return bool(hasattr(model, "replaces") and model.replaces(old, new))


def _load(stack: Stack, template: dict) -> None:
    """Point the stack's resource map at `template` (its parameters, mappings, conditions)."""
    resource_map = stack.resource_map
    resource_map._template = template
    resource_map._resource_json_map = template.get("Resources", {})
    resource_map.load_mapping()
    resource_map.load_parameters()
    resource_map.load_conditions()


def update(
    stack: Stack,
    template: str,
    role_arn: str | None = None,
    parameters: dict | None = None,
    tags: dict | None = None,
) -> None:
    """Stack.update, as CloudFormation does it (the module's docstring)."""
    resource_map = stack.resource_map
    old_template = stack.template_dict
    old_text = stack.template
    new_template = stack.parse_template(template)
    old_resources = old_template.get("Resources", {})
    new_resources = new_template.get("Resources", {})
    parsed = resource_map._parsed_resources
    old_props = {
        name: _resolve(old_resources[name].get("Properties", {}), resource_map)
        for name in old_resources
        if name in parsed
    }
    # (moto's own check compares with a template dict its create has written into.)
    same_parameters = not parameters or parameters == resource_map.input_parameters
    if stack.parse_template(old_text) == new_template and same_parameters:
        raise ValidationError(message="No updates are to be performed.")
    stack.status = "UPDATE_IN_PROGRESS"
    stack._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
    if parameters:
        resource_map.input_parameters = parameters
    _load(stack, new_template)

    done: list[tuple[str, str, object, object, dict, dict]] = []  # (action, id, old, new, ...)
    try:
        for name in dependency_order(new_resources):
            resource_json = new_resources[name]
            type_ = resource_json["Type"]
            if name not in old_resources or name not in parsed:
                _event(stack, name, "", type_, "CREATE_IN_PROGRESS")
                created = _attempt(name, "CREATE", _create, stack, name, resource_json)
                _event(stack, name, _physical(created), type_, "CREATE_COMPLETE")
                done.append(("create", name, None, created, {}, {}))
                continue
            new_props = _resolve(resource_json.get("Properties", {}), resource_map)
            same_type = old_resources[name]["Type"] == type_
            if same_type and new_props == old_props[name]:
                continue
            current = parsed[name]
            if (
                same_type
                and _updatable(resource_json)
                and not _replaces(resource_json, old_props[name], new_props)
            ):
                _event(stack, name, _physical(current), type_, "UPDATE_IN_PROGRESS")
                updated = _attempt(
                    name,
                    "UPDATE",
                    _update_in_place,
                    stack,
                    name,
                    current,
                    old_props[name],
                    new_props,
                    resource_json,
                )
                if updated is not None:
                    parsed[name] = updated
                    _event(stack, name, _physical(updated), type_, "UPDATE_COMPLETE")
                    done.append(("update", name, current, updated, old_props[name], new_props))
                    continue
            # A replacement: the new physical resource first; the old one goes at cleanup.
            _event(
                stack,
                name,
                _physical(current),
                type_,
                "UPDATE_IN_PROGRESS",
                "Requested update requires the creation of a new physical resource; hence "
                "creating one.",
            )
            replacement = _attempt(name, "UPDATE", _create, stack, name, resource_json)
            _event(stack, name, _physical(replacement), type_, "UPDATE_COMPLETE")
            done.append(("replace", name, current, replacement, old_props[name], new_props))
    except UpdateFailed as failure:
        _rollback(stack, failure, done, old_template, old_text)
        return

    stack._add_stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    for action, name, old, _new, _, _ in reversed(done):
        if action == "replace" and old_resources[name].get("UpdateReplacePolicy") != _RETAIN:
            _event(stack, name, _physical(old), old_resources[name]["Type"], "DELETE_IN_PROGRESS")
            _delete(stack, old, old_resources[name])
            _event(stack, name, _physical(old), old_resources[name]["Type"], "DELETE_COMPLETE")
    for name in reversed(dependency_order(old_resources)):
        if name in new_resources or name not in parsed:
            continue
        resource = parsed.pop(name)
        type_ = old_resources[name]["Type"]
        if old_resources[name].get("DeletionPolicy") == _RETAIN:
            _event(stack, name, _physical(resource), type_, "DELETE_SKIPPED")
            continue
        _event(stack, name, _physical(resource), type_, "DELETE_IN_PROGRESS")
        _delete(stack, resource, old_resources[name])
        _event(stack, name, _physical(resource), type_, "DELETE_COMPLETE")
    stack.template = template
    stack._parse_template()
    stack.output_map = stack._create_output_map()
    stack.role_arn = role_arn
    if parameters:
        stack.parameters = parameters
    if tags is not None:
        stack.tags = tags
    stack.status = "UPDATE_COMPLETE"
    stack._add_stack_event("UPDATE_COMPLETE")


def _attempt(logical_id: str, action: str, call, *args):
    try:
        return call(*args)
    except UpdateFailed:
        raise
    except Exception as error:  # what AWS reports as the resource's failure reason
        raise UpdateFailed(logical_id, action, _reason(error)) from error


def _reason(error: Exception) -> str:
    message = getattr(error, "message", None) or str(error)
    code = getattr(error, "code", None) or getattr(error, "error_type", None)
    return f"{message} (Error Code: {code})" if code and code not in message else message


def _rollback(
    stack: Stack, failure: UpdateFailed, done: Iterable, old_template: dict, old_text: str
) -> None:
    resources = old_template.get("Resources", {})
    parsed = stack.resource_map._parsed_resources
    new_json = stack.resource_map._resource_json_map
    type_ = new_json.get(failure.logical_id, {}).get("Type", "")
    _event(stack, failure.logical_id, "", type_, f"{failure.action}_FAILED", failure.reason)
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    stack._add_stack_event(
        "UPDATE_ROLLBACK_IN_PROGRESS",
        resource_status_reason=f"The following resource(s) failed to "
        f"{failure.action.lower()}: [{failure.logical_id}]. ",
    )
    _load(stack, old_template)
    done = list(done)
    by_name = {entry[1]: entry for entry in done}
    # Back to the old template, as an update to it: in its dependency order, replaced resources
    # are the old physical ones again and updated ones are updated back.
    for name in dependency_order(resources):
        if name not in by_name:
            continue
        action, _, old, new, old_props, new_props = by_name[name]
        if action == "update":
            _event(stack, name, _physical(new), resources[name]["Type"], "UPDATE_IN_PROGRESS")
            reverted = _update_in_place(stack, name, new, new_props, old_props, resources[name])
            parsed[name] = reverted if reverted is not None else old
            _event(stack, name, _physical(parsed[name]), resources[name]["Type"], "UPDATE_COMPLETE")
        elif action == "replace":
            parsed[name] = old
    # Cleanup: what this update created goes.
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    for action, name, _old, new, _, _ in reversed(done):
        if action in ("create", "replace"):
            _delete_quietly(stack, name, new, new_json[name])
            if action == "create":
                parsed.pop(name, None)
            _event(stack, name, _physical(new), new_json[name]["Type"], "DELETE_COMPLETE")
    stack.template = old_text
    stack._parse_template()
    stack.output_map = stack._create_output_map()
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")


def create_resources(stack: Stack) -> None:
    """Stack.create_resources, with CloudFormation's rollback of a failed create."""
    stack.status = "CREATE_IN_PROGRESS"
    try:
        all_ready = stack.resource_map.create(stack.template_dict)
    except Exception as error:  # a resource failed: delete what was made
        reason = _reason(error)
        stack.status = "ROLLBACK_IN_PROGRESS"
        stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
        resources = stack.template_dict.get("Resources", {})
        parsed = stack.resource_map._parsed_resources
        for name in reversed(dependency_order(resources)):
            if name in parsed and not isinstance(parsed[name], str):
                _delete_quietly(stack, name, parsed.pop(name), resources[name])
        stack.status = "ROLLBACK_COMPLETE"
        stack._add_stack_event("ROLLBACK_COMPLETE", resource_status_reason=reason)
        return
    stack.description = stack.template_dict.get("Description")
    if all_ready:
        stack.mark_creation_complete()


_installed: list[bool] = []


def install() -> None:
    """Make moto's stacks update (and fail to create) as CloudFormation's do."""
    if _installed:
        return
    Stack.update = update
    Stack.create_resources = create_resources
    _installed.append(True)
