// Decoding of one-dimensional float4[] / float8[] values in array_send's binary form
// (bytea, which node-postgres returns as a Buffer): read directly, where the text form
// would cost a number parse per element.

/**
 * The elements of a one-dimensional real or double precision array, NULL as null. The
 * form: number of dimensions, a has-NULLs flag, the element type, then per dimension its
 * length and lower bound, then per element its byte length (-1 for NULL) and the value,
 * big-endian. A real comes back rounded to 8 significant digits (realValue), a double
 * precision exactly.
 */
export function readSendNumbers(buf: Buffer): Array<number | null> {
  if (buf.length < 12) throw new Error(`not an array in binary form (${buf.length} bytes)`);
  const dimensions = buf.readInt32BE(0);
  if (dimensions === 0) return [];
  if (dimensions !== 1) throw new Error(`expected a one-dimensional array, got ${dimensions} dimensions`);
  const count = buf.readInt32BE(12);
  const out = new Array<number | null>(count);
  let at = 20;
  for (let i = 0; i < count; i++) {
    const length = buf.readInt32BE(at);
    at += 4;
    if (length < 0) {
      out[i] = null;
    } else if (length === 4) {
      out[i] = realValue(buf.readFloatBE(at));
      at += 4;
    } else if (length === 8) {
      out[i] = buf.readDoubleBE(at);
      at += 8;
    } else {
      throw new Error(`array element ${i + 1} has ${length} bytes; only real and double precision are read`);
    }
  }
  return out;
}

const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * A real (as the double of the same value: 357.90656 is 357.90655517578125) rounded to 8
 * significant digits, within half a unit of the real's own precision (about 7.2 digits):
 * the double nearest that decimal, which JSON writes with those digits only rather than
 * 17 (357.90656). The integer over an exact power of ten is the nearest double. Values
 * of magnitude 10^8 and up, or under 10^-15, are kept as they are.
 */
export function realValue(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const k = 7 - Math.floor(Math.log10(Math.abs(x)));
  if (k < 0 || k > 22) return x;
  const scale = POWERS_OF_TEN[k]!;
  return Math.round(x * scale) / scale;
}
