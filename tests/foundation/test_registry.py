import pytest

from rses.editing import EDITORS, Editor
from rses.errors import UsageError
from rses.registry import Registry


def test_lazy_string_entries_import_on_first_get():
    reg = Registry("thing")
    reg.register("ordered", "collections:OrderedDict")
    from collections import OrderedDict

    assert reg.get("ordered") is OrderedDict


def test_decorator_registration_and_names():
    reg = Registry("thing")

    @reg.register("b")
    class B:
        pass

    reg.register("a", int)
    assert reg.names() == ["a", "b"]
    assert reg.get("b") is B
    assert "a" in reg and "zzz" not in reg


def test_unknown_name_suggests_close_matches_and_lists_all():
    reg = Registry("editor")
    reg.register("instructpix2pix", int)
    reg.register("inpaint", int)
    with pytest.raises(
        UsageError, match=r"Unknown editor 'inpiant'\. Did you mean 'inpaint'.*Available: inpaint, "
    ):
        reg.get("inpiant")


def test_collision_with_a_different_target_raises():
    reg = Registry("thing")
    reg.register("x", int)
    reg.register("x", int)  # the same target twice is fine
    with pytest.raises(ValueError, match="already registered"):
        reg.register("x", str)


def test_base_class_is_enforced_for_lazy_entries():
    reg = Registry("editor", base_cls=Editor)
    reg.register("bad", "collections:OrderedDict")
    with pytest.raises(TypeError, match="not a subclass of Editor"):
        reg.get("bad")


def test_entry_point_group_entries_are_listed(monkeypatch):
    from importlib.metadata import EntryPoint

    import rses.registry as registry_module

    fake = [EntryPoint(name="third-party", value="collections:OrderedDict", group="rses.test")]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: fake if group == "rses.test" else [])
    reg = Registry("editor", entry_point_group="rses.test")
    assert reg.names() == ["third-party"]


def test_builtin_editor_names_are_registered_without_importing_them():
    for name in (
        "identity",
        "global-style",
        "paste-style",
        "clone-style",
        "kontext",
        "instructpix2pix",
        "inpaint",
        "regionroute",
    ):
        assert name in EDITORS


def test_editor_names_never_import_arbitrary_modules():
    """Only registered names and installed entry points load; a 'module:Object' string is not a name."""
    for name in ("os:system", "subprocess:run", "baselines.reference:IdentityEditor"):
        with pytest.raises(UsageError, match="Unknown editor"):
            EDITORS.get(name)
