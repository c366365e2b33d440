"""Attacks in one registry: ``get_attack("jailbreak-templates", per_sample=2).attack(samples)``.

Attacks that call models take them in the constructor: ``past-tense`` and ``pap`` an
``attacker`` backend, ``pair`` an ``attacker``, a ``judge`` and a ``target``; each takes a
``store`` for caching those calls.
"""

from __future__ import annotations

from typing import Any

from srlab.errors import SrlabError
from srlab.generate.attacks.base import Attack, attacked_id, attacked_sample
from srlab.models.base import ModelBackend
from srlab.registry import Registry
from srlab.store import Store

ATTACKS: Registry[type[Attack]] = Registry("attack", group="srlab.attacks", base=Attack)
ATTACKS.register("none", "srlab.generate.attacks.templates:NoAttack")
ATTACKS.register("jailbreak-templates", "srlab.generate.attacks.templates:JailbreakTemplatesAttack")
ATTACKS.register("pap", "srlab.generate.attacks.rewrite:PAPAttack")
ATTACKS.register("past-tense", "srlab.generate.attacks.rewrite:PastTenseAttack")
ATTACKS.register("pair", "srlab.generate.attacks.pair:PAIRAttack")



def model_roles(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(roles the attack calls, roles among them it can do without), read off its class."""
    cls = ATTACKS.get(name)
    return tuple(cls.model_roles), tuple(cls.optional_roles)


def get_attack(name: str, **kwargs: Any) -> Attack:
    return ATTACKS.get(name)(**kwargs)


def build_attack(
    name: str,
    *,
    models: dict[str, ModelBackend] | None = None,
    store: Store | None = None,
    **options: Any,
) -> Attack:
    """An attack with the model roles it needs picked from ``models`` (attacker / judge / target).

    For callers that hold a pool of backends (``srlab eval``, experiment configs): a role the
    attack needs and ``models`` lacks is an error naming it; roles it does not use are ignored.
    """
    roles, optional = model_roles(name)  # unknown names fail here, listing the valid ones
    models = models or {}
    kwargs: dict[str, Any] = dict(options)
    missing = [role for role in roles if role not in models and role not in optional]
    if missing:
        raise SrlabError(f"attack {name!r} needs model(s) for: {', '.join(missing)}")
    for role in roles:
        if role in models:
            kwargs[role] = models[role]
    if roles:
        kwargs["store"] = store
    return get_attack(name, **kwargs)


__all__ = ["ATTACKS", "model_roles", "Attack", "attacked_id", "attacked_sample", "build_attack", "get_attack"]
