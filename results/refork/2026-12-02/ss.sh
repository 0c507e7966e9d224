cd /tmp
specswap --setup-nullb 3000 --visits 400 --reps 5 -j $COWLAB_OUT/specswap.json
specswap --setup-nullb 3000 --visits 400 --reps 5 --modes refork --runs-only -j $COWLAB_OUT/specswap-runs-only.json
