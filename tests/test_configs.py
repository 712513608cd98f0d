"""gaplab.configs: the one config idiom (frozen dataclasses + shared checks)."""
import dataclasses

import pytest

from gaplab import configs
from gaplab._errors import ConfigError
from gaplab.cone.config import ConeConfig
from gaplab.encoders import ViTConfig


@dataclasses.dataclass(frozen=True)
class _Demo(configs.Config):
  width: int = 8
  sigmas: tuple = (1.0,)

  def validate(self):
    configs.check_int("width", self.width)
    configs.check_number_list("sigmas", self.sigmas)
    return self


def test_round_trip_turns_lists_into_tuples_and_back():
  c = _Demo.from_dict({"width": 4, "sigmas": [0.5, 2]})
  assert c.sigmas == (0.5, 2) and c.to_dict() == {"width": 4, "sigmas": [0.5, 2]}
  assert _Demo.from_dict(c.to_dict()) == c and c.replace(width=5).width == 5


def test_unknown_keys_and_bad_values_name_the_field():
  with pytest.raises(ConfigError, match="unknown key; expected one of width, sigmas") as e:
    _Demo.from_dict({"widht": 4})
  assert e.value.field == "widht"
  with pytest.raises(ConfigError, match="expected an integer >= 1, got 0") as e:
    _Demo(width=0)  # validated on construction
  assert e.value.field == "width"
  with pytest.raises(ConfigError, match="expected finite numbers >= 0, got nan"):
    _Demo(sigmas=(float("nan"),))


@pytest.mark.parametrize("check, args", [
    (configs.check_int, (True,)), (configs.check_int, (2.0,)), (configs.check_number, (-1,)),
    (configs.check_number, (float("inf"),)), (configs.check_bool, (1,)),
    (configs.check_choice, ("c", ("a", "b"))), (configs.check_int_list, ((),)),
    (configs.check_int_list, ((1, 0),)), (configs.check_distinct, ((1, 1),))])
def test_checks_refuse(check, args):
  with pytest.raises(ConfigError) as e:
    check("f", *args)
  assert e.value.field == "f" and e.value.message.startswith("expected")


def test_cone_config_validates_at_the_edge_encoders_on_construction():
  bad = ConeConfig(depth=0)  # constructing does not validate (it may read a file)
  with pytest.raises(ConfigError, match="depth: expected an integer >= 1"):
    bad.validate()
  with pytest.raises(ConfigError) as e:
    ViTConfig(heads=3)  # dim 64 is not divisible by 3
  assert e.value.field == "heads"
  with pytest.raises(ConfigError, match="unknown key") as e:
    ViTConfig.from_dict({"layers": 2})
  assert e.value.field == "layers"
