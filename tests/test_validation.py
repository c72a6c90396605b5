"""The validation switch (torch.distributions' convention): on by default, off deliberately, restored."""

import pytest

import suite


def test_validation_is_on_by_default_and_the_context_manager_restores_it():
    assert suite.validation_enabled()
    with suite.validation(False):
        assert not suite.validation_enabled()
        with suite.validation(True):
            assert suite.validation_enabled()
        assert not suite.validation_enabled()
    assert suite.validation_enabled()


def test_set_validation_takes_only_a_bool():
    with pytest.raises(TypeError, match="enabled"):
        suite.set_validation(0)
    assert suite.validation_enabled()
