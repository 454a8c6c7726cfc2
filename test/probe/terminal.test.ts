import { ProgressBar } from '../../lib/probe/terminal';

function stream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = { isTTY, text: '', write(chunk: string) { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

test('the progress bar redraws one line in place on a terminal, by count or by time, and clears it', () => {
  const tty = stream(true);
  const byCount = new ProgressBar(tty, { count: 200 });
  byCount.update({ done: 50, errors: 2, elapsedMs: 1500 });
  expect(tty.text).toBe('\r[########......................]  25% 50/200, 2 errors, 1.5 s\u001b[K');
  byCount.clear();
  expect(tty.text.endsWith('\r\u001b[K')).toBe(true);
  const timed = stream(true);
  new ProgressBar(timed, { durationSeconds: 10 }).update({ done: 7, errors: 0, elapsedMs: 5000 });
  expect(timed.text).toContain(' 50% 7 requests, 0 errors, 5.0 s');
});

test('nothing at all when stderr is not a terminal (a log or a pipe gets no spam)', () => {
  const pipe = stream(false);
  const bar = new ProgressBar(pipe, { count: 10 });
  expect(bar.enabled).toBe(false);
  bar.update({ done: 5, errors: 0, elapsedMs: 100 });
  bar.clear();
  expect(pipe.text).toBe('');
});
