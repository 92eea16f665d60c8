/**
 * Native work finishes on another thread, so its errors carry no JS stack. Capturing the caller's
 * stack before going async (as sharp does) makes a failed `await model.forward(x)` point at the
 * user's line instead of at nothing.
 */
export async function withCallerStack<T>(work: () => Promise<T>): Promise<T> {
  const caller = new Error();
  try {
    return await work();
  } catch (err) {
    if (err instanceof Error && caller.stack) {
      const frames = caller.stack.split('\n').slice(2).join('\n');
      err.stack = `${err.name}: ${err.message}\n${frames}`;
    }
    throw err;
  }
}
