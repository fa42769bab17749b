/*
 * workers.c - worker threads for jobs taken back in order (as pigz's yarn):
 * gzip.c deflates and gzread.c inflates gzip members on them.  The caller
 * keeps a ring of gb_workers_jobs() jobs, puts each, and waits for the
 * oldest before it reuses its slot; with one thread a job runs in the
 * caller's thread when it is put.
 */
#include <stdlib.h>

#include "gb.h"

struct gb_workers {
	int threads, stop;
	size_t jobs;
	int (*run)(struct gb_work *, void *);
	void *arg;
	struct gb_work *qhead, *qtail;
	pthread_t *tid;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
};

static void *
worker(void *arg)
{
	struct gb_workers *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct gb_work *j;
		while (!p->qhead && !p->stop)
			pthread_cond_wait(&p->work, &p->mu);
		if (!p->qhead)
			break;
		j = p->qhead;
		if (!(p->qhead = j->next))
			p->qtail = NULL;
		pthread_mutex_unlock(&p->mu);
		int r = p->run(j, p->arg);
		pthread_mutex_lock(&p->mu);
		j->failed = r != 0;
		j->done = 1;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct gb_workers *
gb_workers_open(int threads, int (*run)(struct gb_work *, void *),
    void *arg)
{
	struct gb_workers *p = gb_calloc(1, sizeof *p);

	p->threads = threads < 1 ? 1 : threads > GB_THREADS_MAX ?
	    GB_THREADS_MAX : threads;
	p->run = run;
	p->arg = arg;
	/*
	 * Jobs in flight: twice the threads, and at least 8, so that the
	 * workers still have queued jobs while the caller reads, hashes or
	 * writes (with 4 at -j 2, gb-pack sped up 1.79 times over -j 1;
	 * with 8, 1.90 times).  At most GB_THREADS_MAX: memory must not grow
	 * with the cores (at 64, 128 members in flight took 300 MiB).  One
	 * thread: one job, run when it is put.
	 */
	p->jobs = p->threads > 1 ? 2 * (size_t)p->threads : 1;
	if (p->threads > 1 && p->jobs < 8)
		p->jobs = 8;
	if (p->jobs > GB_THREADS_MAX)
		p->jobs = GB_THREADS_MAX;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	if (p->threads > 1) {
		p->tid = gb_calloc((size_t)p->threads, sizeof *p->tid);
		for (int i = 0; i < p->threads; i++)
			if (gb_thread_create(&p->tid[i], worker, p))
				gb_errx(GB_EXIT_RUN, "cannot start a thread");
	}
	return p;
}

size_t
gb_workers_jobs(const struct gb_workers *p)
{
	return p->jobs;
}

void
gb_workers_put(struct gb_workers *p, struct gb_work *j)
{
	j->done = j->failed = 0;
	j->next = NULL;
	if (!p->tid) {
		j->failed = p->run(j, p->arg) != 0;
		j->done = 1;
		return;
	}
	pthread_mutex_lock(&p->mu);
	if (p->qtail)
		p->qtail->next = j;
	else
		p->qhead = j;
	p->qtail = j;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

int
gb_workers_wait(struct gb_workers *p, struct gb_work *j)
{
	pthread_mutex_lock(&p->mu);
	while (!j->done)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
	return j->failed ? -1 : 0;
}

void
gb_workers_close(struct gb_workers *p)
{
	if (!p)
		return;
	if (p->tid) {
		pthread_mutex_lock(&p->mu);
		p->stop = 1;
		p->qhead = p->qtail = NULL;	/* queued jobs are dropped */
		pthread_cond_broadcast(&p->work);
		pthread_mutex_unlock(&p->mu);
		for (int i = 0; i < p->threads; i++)
			pthread_join(p->tid[i], NULL);
		free(p->tid);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p);
}
