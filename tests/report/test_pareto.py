import numpy as np
import pytest

from rses.report.pareto import pareto_front


def test_front_on_hand_made_points():
    # style (higher better) vs background distortion (lower better)
    x = [0.50, 0.70, 0.63, 0.55, 0.60]
    y = [0.00, 0.40, 0.05, 0.30, 0.05]
    # 0.55/0.30 is dominated by 0.63/0.05; 0.60/0.05 by 0.63/0.05 (equal y, lower x)
    assert pareto_front(x, y).tolist() == [True, True, True, False, False]


def test_directions_flip_the_front():
    x, y = [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]
    assert pareto_front(x, y, True, True).tolist() == [False, False, True]
    assert pareto_front(x, y, False, False).tolist() == [True, False, False]
    assert pareto_front(x, y, True, False).tolist() == [True, True, True]


def test_ties_stay_on_front_and_nan_never():
    assert pareto_front([1.0, 1.0, np.nan], [0.0, 0.0, 0.0]).tolist() == [True, True, False]


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"shapes \(2,\) and \(3,\)"):
        pareto_front([1, 2], [1, 2, 3])
