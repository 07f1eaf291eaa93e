// Histograms in PostgreSQL's text form of the bigint[] histograms (bucket * 2^40 +
// count, e.g. "{1099511627781,2199023255559}"), as the SQL helpers return them, read into
// the service's Histogram: the tests compare the SQL helpers with the service on them.
import { Histogram } from '../../src/rollups/histogram';

const COUNT_MASK = 2 ** 40;

/** One histogram from one or more texts, each of one or more bigint[] values (concatenated). */
export function histogramFromText(...texts: Array<string | null | undefined>): Histogram {
  const histogram = new Histogram();
  for (const text of texts) {
    for (const element of text?.match(/\d+/g) ?? []) {
      // Elements fit a double exactly: bucket <= 4000.
      const value = Number(element);
      const bucket = Math.floor(value / COUNT_MASK);
      histogram.add(bucket, value - bucket * COUNT_MASK);
    }
  }
  return histogram;
}
