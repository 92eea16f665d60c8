/**
 * The cosine annealing formula of SGDR (Loshchilov & Hutter, eq. 5):
 *   eta = eta_min + ½ (eta_max − eta_min) (1 + cos(π · T_cur / T_max)).
 * It is the oracle the native CosineAnnealingLR is checked against, so it keeps PyTorch's order
 * of operations (`eta_min + (eta_max - eta_min) * (1 + cos(pi * T_cur / T_max)) / 2`) and, with a
 * correctly rounded cosine (correctly-rounded-cos.ts), gives PyTorch's values bit for bit nearly everywhere.
 */
import { cosineCorrectlyRounded } from './correctly-rounded-cos';
import { epochTime, positive, ScheduleParamError } from './errors';

/**
 * LR after annealing from etaMax for tCur out of tMax (same unit, e.g. epochs or steps).
 * Exactly etaMax at tCur = 0 and exactly etaMin from tCur ≥ tMax on (floating-point rounding of
 * the formula would otherwise miss either end by an ulp), and never outside [etaMin, etaMax].
 */
export function cosineAnnealing(etaMax: number, etaMin: number, tCur: number, tMax: number): number {
  positive('tMax', tMax);
  if (epochTime(tCur, 'tCur') === 0) return etaMax;
  if (tCur >= tMax) return etaMin;
  const eta = etaMin + ((etaMax - etaMin) * (1 + cosineCorrectlyRounded((Math.PI * tCur) / tMax))) / 2;
  return Math.min(etaMax, Math.max(etaMin, eta));
}

/**
 * k-decay's cosine (timm's CosineLRScheduler with k_decay = k): the annealing of cosineAnnealing
 * over T_cur^k out of T_max^k, i.e. cos(π · T_cur^k / T_max^k) in timm's order of operations. k = 1
 * is cosineAnnealing itself, bit for bit.
 */
export function kDecayAnnealing(etaMax: number, etaMin: number, tCur: number, tMax: number, k: number): number {
  if (k === 1) return cosineAnnealing(etaMax, etaMin, tCur, tMax);
  positive('tMax', tMax);
  epochTime(tCur, 'tCur');
  // The ends stay exact: T_cur^k reaches T_max^k exactly when T_cur reaches T_max.
  if (tCur >= tMax) return etaMin;
  const span = tMax ** k;
  if (!(span > 0 && Number.isFinite(span))) {
    throw new ScheduleParamError(
      'kDecay',
      `${k} is out of range for a cycle of ${tMax} epochs: T_i^k = ${span} is not a finite number > 0`,
    );
  }
  return cosineAnnealing(etaMax, etaMin, tCur ** k, span);
}
