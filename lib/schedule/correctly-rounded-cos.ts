/**
 * A correctly rounded cosine on [0, π], for the cosine annealing formula.
 *
 * Near the end of a cycle, 1 + cos(π·T_cur/T_i) is tiny and keeps only the last bits of the
 * cosine, so a cosine one ulp off moves the LR by far more than 1e-12 relative. PyTorch evaluates
 * the cosine with the C library's, which is correctly rounded almost everywhere (glibc); V8's
 * Math.cos is off by an ulp for about 3% of the angles a schedule produces. Computing cos(x) in
 * double-double arithmetic (~32 digits) and rounding once gives the correctly rounded cosine of the
 * same double x, and so the same LR as PyTorch, bit for bit, wherever the C library rounds correctly.
 */

/** A double-double: the unevaluated sum hi + lo with |lo| ≤ ulp(hi)/2. */
type DD = [number, number];

const SPLITTER = 134217729; // 2^27 + 1, Dekker's splitting constant

function twoSum(a: number, b: number): DD {
  const s = a + b;
  const v = s - a;
  return [s, a - (s - v) + (b - v)];
}

function fastTwoSum(a: number, b: number): DD {
  const s = a + b;
  return [s, b - (s - a)];
}

function twoProduct(a: number, b: number): DD {
  const p = a * b;
  const ta = SPLITTER * a;
  const ah = ta - (ta - a);
  const al = a - ah;
  const tb = SPLITTER * b;
  const bh = tb - (tb - b);
  const bl = b - bh;
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

function add(a: DD, b: DD): DD {
  const [s, e] = twoSum(a[0], b[0]);
  return fastTwoSum(s, e + a[1] + b[1]);
}

function mul(a: DD, b: DD): DD {
  const [p, e] = twoProduct(a[0], b[0]);
  return fastTwoSum(p, e + a[0] * b[1] + a[1] * b[0]);
}

function divide(a: DD, d: number): DD {
  const q = a[0] / d;
  const [p, e] = twoProduct(q, d);
  return fastTwoSum(q, (a[0] - p - e + a[1]) / d);
}

// π and π/2 as double-doubles.
const PI: DD = [3.141592653589793, 1.2246467991473532e-16];
const HALF_PI: DD = [1.5707963267948966, 6.123233995736766e-17];

/** Taylor terms to use for |z| ≤ π/4: the next one is below 1e-35. */
const TERMS = 15;

/** cos(z) (first = 0) or sin(z) (first = 1) for |z| ≤ π/4, by Horner's rule in double-double. */
function series(z: DD, first: 0 | 1): DD {
  const z2 = mul(z, z);
  let s: DD = [1, 0];
  for (let k = TERMS; k >= 1; k--) {
    const n = 2 * k + first;
    s = add([1, 0], divide(mul(s, [-z2[0], -z2[1]]), n * (n - 1)));
  }
  return first === 1 ? mul(s, z) : s;
}

/** cos(x) correctly rounded, for a double x in [0, π]. */
export function cosineCorrectlyRounded(x: number): number {
  let r: DD;
  if (x <= Math.PI / 4) {
    r = series([x, 0], 0);
  } else if (x <= (3 * Math.PI) / 4) {
    // cos(x) = −sin(x − π/2)
    const y = add(twoSum(x, -HALF_PI[0]), [-HALF_PI[1], 0]);
    r = series([-y[0], -y[1]], 1);
  } else {
    // cos(x) = −cos(π − x)
    const z = add(twoSum(PI[0], -x), [PI[1], 0]);
    const c = series(z, 0);
    r = [-c[0], -c[1]];
  }
  return r[0] + r[1];
}
