cd /tmp
reforkbench --sizes 256M --changed 1,100 --reps 3 --preempt 30 --preempt-size 256M -j $COWLAB_OUT/pre.json > $COWLAB_OUT/pre.txt 2>&1
reforkbench --sizes 256M --changed 1,100 --reps 3 --preempt 30 --preempt-size 256M --runs-only -j $COWLAB_OUT/pre-runs.json > $COWLAB_OUT/pre-runs.txt 2>&1
cat $COWLAB_OUT/pre.txt $COWLAB_OUT/pre-runs.txt
