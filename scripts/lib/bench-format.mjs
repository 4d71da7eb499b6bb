// Figures as bench-report.mjs and its section modules write them (seconds in, text out).
export const ratio = (a, b) => Math.round((a / b) * 100) / 100;
export const ms = s => `${(s * 1000).toFixed(s < 0.1 ? 1 : 0)} ms`;
export const cell = t => `${ms(t.median)} (±${ms(t.stddev)})`;
export const signedMs = v => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)} ms`;
