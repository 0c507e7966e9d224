cd /tmp
reforkbench --sizes 64M,256M,1G --changed 0,0.1,1,10,100 --reps 3 --budget-us 100,300,1000 --preempt 0 -j $COWLAB_OUT/reforkbench.json
