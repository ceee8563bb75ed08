// msgpackr treats a failing require as "no native acceleration" and uses its JavaScript decoder.
throw new Error('msgpackr-extract is not installed (stub); msgpackr falls back to JavaScript');
