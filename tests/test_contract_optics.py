"""The bad-input contract (tests/contract.py) for the optics public API: asm, Propagator, sas, fresnel,
fraunhofer, transfer_function and the sampling criteria. Every bad call must raise a TypeError/ValueError
whose message names the argument (as a word), or return a correct, finite result (checked against the
same call on good input: promotion, empty batches, physical scale invariance).

`python tests/test_contract_optics.py` prints the outcome counts (the before/after share of a change).
"""

from __future__ import annotations

import re
import sys
import warnings
from collections import Counter

import pytest
import torch

from suite import optics as O
from tests.contract import CLEAR, RAW, Case, classify

LAM, DX, Z = 0.5e-6, 1e-6, 2e-5
N = 8
NAN, INF = float("nan"), float("inf")

pytestmark = pytest.mark.filterwarnings("ignore::suite.optics.OpticsValidityWarning")


def _u(shape=(N, N), dtype=torch.complex64):
    g = torch.Generator().manual_seed(0)
    if dtype.is_complex:
        return torch.randn(*shape, generator=g, dtype=dtype)
    if dtype.is_floating_point:
        return torch.randn(*shape, generator=g, dtype=dtype)
    return torch.ones(*shape, dtype=dtype)


def _with(value, where=(0, 0), dtype=torch.complex64):
    u = _u(dtype=dtype)
    u[where] = value
    return u


def _propagate(name):
    """The field-taking public functions as f(u, dx, wavelength, z, **kw) -> field."""
    def sas(u, dx, wavelength, z, **kw):
        return O.sas(u, dx, wavelength, z, **kw)[0]

    def fresnel(u, dx, wavelength, z, **kw):
        return O.fresnel(u, dx, wavelength, z, **kw)[0]

    def fraunhofer(u, dx, wavelength, z, **kw):
        return O.fraunhofer(u, dx, wavelength, z, **kw)[0]

    def propagator(u, dx, wavelength, z, **kw):
        return O.Propagator((N, N), dx, wavelength, z, **kw)(u)

    return {"asm": O.asm, "sas": sas, "fresnel": fresnel, "fraunhofer": fraunhofer, "Propagator": propagator}[name]


FIELD_FNS = ("asm", "Propagator", "sas", "fresnel", "fraunhofer")
# sas / fresnel / fraunhofer need z > 0 and a long distance; asm / Propagator take any finite z
GOOD_Z = {"asm": Z, "Propagator": Z, "sas": 2e-4, "fresnel": 2e-3, "fraunhofer": 2e-2}


def bad_cases() -> list[Case]:
    cases = []
    for name in FIELD_FNS:
        f, z = _propagate(name), GOOD_Z[name]

        def add(label, arg, call):
            cases.append(Case(f"{name}: {label}", call, arg))

        # the field
        add("NaN entry", "u", lambda f=f, z=z: f(_with(NAN), DX, LAM, z))
        add("Inf entry", "u", lambda f=f, z=z: f(_with(INF), DX, LAM, z))
        add("-Inf in a real field", "u", lambda f=f, z=z: f(_with(-INF, dtype=torch.float32), DX, LAM, z))
        add("NaN in the imaginary part", "u", lambda f=f, z=z: f(_with(complex(0, NAN)), DX, LAM, z))
        add("int64 field", "u", lambda f=f, z=z: f(_u(dtype=torch.int64), DX, LAM, z))
        add("bool field", "u", lambda f=f, z=z: f(_u(dtype=torch.bool), DX, LAM, z))
        add("uint8 field", "u", lambda f=f, z=z: f(_u(dtype=torch.uint8), DX, LAM, z))
        add("numpy array", "u", lambda f=f, z=z: f(_u().numpy(), DX, LAM, z))
        add("list", "u", lambda f=f, z=z: f([[1.0, 2.0], [3.0, 4.0]], DX, LAM, z))
        add("1-D field", "u", lambda f=f, z=z: f(torch.ones(N, dtype=torch.complex64), DX, LAM, z))
        add("0-d field", "u", lambda f=f, z=z: f(torch.tensor(1 + 0j), DX, LAM, z))
        add("empty rows", "u", lambda f=f, z=z: f(torch.ones(0, N, dtype=torch.complex64), DX, LAM, z))
        add("empty columns", "u", lambda f=f, z=z: f(torch.ones(N, 0, dtype=torch.complex64), DX, LAM, z))
        # the physical scalars
        for arg, pos in (("dx", 1), ("wavelength", 2)):
            for label, v in (("zero", 0.0), ("negative", -1e-6), ("NaN", NAN), ("Inf", INF), ("-Inf", -INF),
                             ("bool", True), ("string", "1e-6"), ("None", None), ("complex", 1e-6 + 0j),
                             ("2-element tensor", torch.tensor([1e-6, 2e-6]))):
                def call(f=f, z=z, pos=pos, v=v):
                    args = [_u(), DX, LAM, z]
                    args[pos] = v
                    return f(*args)
                add(f"{arg} {label}", arg, call)
        for label, v in (("NaN", NAN), ("Inf", INF), ("-Inf", -INF), ("bool", True), ("string", "1"),
                         ("None", None), ("2-element tensor", torch.tensor([1e-3, 2e-3]))):
            add(f"z {label}", "z", lambda f=f, v=v: f(_u(), DX, LAM, v))
        if name in ("sas", "fresnel", "fraunhofer"):
            add("z zero", "z", lambda f=f: f(_u(), DX, LAM, 0.0))
            add("z negative", "z", lambda f=f: f(_u(), DX, LAM, -1e-3))
            add("non-square field", "u", lambda f=f, z=z: f(torch.ones(N, N + 2, dtype=torch.complex64), DX, LAM, z))
        # padding
        if name != "sas":
            bad_pads = (0, 0.5, -1, NAN, INF, True, "2", None)
            if name in ("fresnel", "fraunhofer"):
                bad_pads += (1.5,)
            for v in bad_pads:
                add(f"pad {v!r}", "pad", lambda f=f, z=z, v=v: f(_u(), DX, LAM, z, pad=v))
        if name in ("asm", "Propagator"):
            add("band_limit 'yes'", "band_limit", lambda f=f: f(_u(), DX, LAM, Z, band_limit="yes"))
            add("band_limit None", "band_limit", lambda f=f: f(_u(), DX, LAM, Z, band_limit=None))
    # Propagator's own arguments
    for label, shape in (("3 entries", (N, N, N)), ("an int", N), ("zero size", (0, N)), ("negative", (N, -2)),
                         ("float size", (8.5, 8)), ("bool size", (True, 8)), ("string", "88")):
        cases.append(Case(f"Propagator: shape {label}", lambda shape=shape: O.Propagator(shape, DX, LAM, Z), "shape"))
    cases.append(Case("Propagator: field of another shape",
                      lambda: O.Propagator((N, N), DX, LAM, Z)(_u((N + 1, N))), "u"))
    cases.append(Case("Propagator: z set to NaN", lambda: setattr(O.Propagator((N, N), DX, LAM, Z), "z", NAN), "z"))
    # transfer_function and the sampling criteria
    tf = O.transfer_function
    for label, kw, arg in (("int dtype", dict(dtype=torch.int64), "dtype"),
                           ("bool dtype", dict(dtype=torch.bool), "dtype"),
                           ("float dtype as a string", dict(dtype="complex64"), "dtype"),
                           ("padded_shape with a zero", dict(padded_shape=(0, 4)), "padded_shape")):
        cases.append(Case(f"transfer_function: {label}", lambda kw=kw: tf((N, N), DX, LAM, Z, **kw), arg))
    for label, shape in (("empty", (0, N)), ("1 entry", (N,)), ("negative", (-N, N))):
        cases.append(Case(f"transfer_function: shape {label}", lambda shape=shape: tf(shape, DX, LAM, Z), "shape"))
    cases.append(Case("transfer_function: dx zero", lambda: tf((N, N), 0.0, LAM, Z), "dx"))
    cases.append(Case("transfer_function: z NaN", lambda: tf((N, N), DX, LAM, NAN), "z"))
    for fn, args, arg in ((O.critical_distance, (0, DX, LAM), "n"), (O.critical_distance, (N, -DX, LAM), "dx"),
                          (O.critical_distance, (N, DX, NAN), "wavelength"),
                          (O.critical_distance, (N, DX, LAM, 0.5), "pad"),
                          (O.band_limit_frequency, (0, DX, LAM, Z), "padded_n"),
                          (O.band_limit_frequency, (N, DX, LAM, INF), "z"),
                          (O.sas_distance_limit, (N, 0.0, LAM), "dx"), (O.sas_distance_limit, (-1, DX, LAM), "n"),
                          (O.asm_validity, ((N, N), DX, LAM, NAN), "z"), (O.asm_validity, ((N,), DX, LAM, Z), "shape"),
                          (O.asm_validity, ((N, N), DX, LAM, Z, 0), "pad")):
        cases.append(Case(f"{fn.__name__}{args}", lambda fn=fn, args=args: fn(*args), arg))
    return cases


CASES = bad_cases()


def _names_argument(case: Case) -> tuple[bool, str]:
    """CLEAR, and the argument appears as a word of the message (so 'z' is not matched inside 'size')."""
    outcome, detail = classify(case)
    ok = outcome == CLEAR and re.search(rf"(?<![A-Za-z_]){re.escape(case.arg)}(?![A-Za-z_])", detail) is not None
    return ok, f"{outcome}: {detail}"


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_bad_input_gets_a_clear_error(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok, detail = _names_argument(case)
    assert ok, f"{case.label}: {detail}"


# ------------------------------------------------------------------------------------------------ accepted input

@pytest.mark.parametrize("name", FIELD_FNS)
@pytest.mark.parametrize("real", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_real_fields_are_promoted_and_correct(name, real):
    f, z = _propagate(name), GOOD_Z[name]
    u = _u(dtype=torch.float32).to(real)
    out = f(u, DX, LAM, z)
    assert out.dtype == (torch.complex128 if real == torch.float64 else torch.complex64)
    ref = f(u.to(torch.complex128), DX, LAM, z)
    tol = 1e-12 if real == torch.float64 else 1e-5
    assert float((out.to(torch.complex128) - ref).abs().max() / ref.abs().max()) < tol


@pytest.mark.parametrize("name", FIELD_FNS)
def test_an_empty_batch_gives_an_empty_result(name):
    f, z = _propagate(name), GOOD_Z[name]
    out = f(torch.ones(0, N, N, dtype=torch.complex64), DX, LAM, z)
    assert out.shape == (0, N, N)


SCALES = [(torch.complex64, s) for s in (2.0 ** -140, 1e-35, 1e-20, 1e20, 1e35, 2.0 ** 124)] + \
         [(torch.complex128, s) for s in (2.0 ** -1060, 1e-300, 1e-20, 1e20, 1e300, 2.0 ** 1020)]


@pytest.mark.parametrize("name", FIELD_FNS)
@pytest.mark.parametrize("cdt,scale", SCALES)
def test_field_scale_is_linear_over_the_whole_float_range(name, cdt, scale):
    # propagation is linear: f(s u) = s f(u) to rounding, for every finite s u (no overflow in the FFT sums,
    # no loss to subnormals: 2^-140 and 2^-1060 are subnormal entries)
    f, z = _propagate(name), GOOD_Z[name]
    u = _u(dtype=cdt) / 4  # |u| < 2^2 so that s u stays finite at 2^124 / 2^1020
    if scale < 1e-30:  # an exactly representable subnormal field: a power of two times a few bits
        u = torch.complex(torch.round(u.real * 8), torch.round(u.imag * 8)) / 8
    out = f(u * scale, DX, LAM, z)
    assert bool(torch.isfinite(out).all())
    ref = f(u.to(torch.complex128), DX, LAM, z) * scale
    tol = 1e-12 if cdt == torch.complex128 else 1e-5
    # to rounding in the output dtype: relative, plus the subnormal spacing where the exact answer is that small
    floor = 4 * torch.finfo(out.real.dtype).smallest_normal * torch.finfo(out.real.dtype).eps
    err = float((out.to(torch.complex128) - ref).abs().max())
    assert err <= tol * float(ref.abs().max()) + floor


@pytest.mark.parametrize("name", FIELD_FNS)
@pytest.mark.parametrize("s", [1e-200, 1e-30, 1e30, 1e200])
def test_physical_scale_invariance(name, s):
    # only ratios of dx, wavelength and z matter (the output pitch scales with them)
    f, z = _propagate(name), GOOD_Z[name]
    u = _u(dtype=torch.complex128)
    out = f(u, s * DX, s * LAM, s * z)
    ref = f(u, DX, LAM, z)
    assert bool(torch.isfinite(out).all())
    assert float((out - ref).abs().max() / ref.abs().max()) < 1e-9


def summary() -> Counter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Counter(CLEAR if _names_argument(c)[0] else
                       (RAW if classify(c)[0] == CLEAR else classify(c)[0]) for c in CASES)


if __name__ == "__main__":
    counts = summary()
    total = sum(counts.values())
    for k, v in counts.most_common():
        print(f"{k:28s} {v:4d}  {100 * v / total:5.1f}%")
    if "-v" in sys.argv:
        for c in CASES:
            ok, detail = _names_argument(c)
            if not ok:
                print(f"  {c.label}: {detail[:150]}")
    print(f"total {total}")


def test_value_checks_follow_the_validation_switch():
    from suite import validation
    u = _with(NAN)
    with pytest.raises(ValueError, match="u contains NaN"):
        O.asm(u, DX, LAM, Z)
    with validation(False):  # deliberately off (no device sync): NaN in, NaN out, no rescaling pass
        assert bool(torch.isnan(O.asm(u, DX, LAM, Z)).any())
    with pytest.raises(ValueError, match="u contains NaN"):
        O.asm(u, DX, LAM, Z)
