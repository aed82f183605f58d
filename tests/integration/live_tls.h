/*
 * live_tls.h — certificates for the live TLS tests (included after live_etcd.h, whose struct live names
 * the run's directory): a CA and certificates signed by it, made with the openssl CLI. Static functions:
 * one copy per test binary.
 */
#ifndef PGR_TESTS_LIVE_TLS_H
#define PGR_TESTS_LIVE_TLS_H

#define OPENSSL_BIN "/usr/bin/openssl"

/* A path in the run's directory. */
static void in_dir(const struct live *lv, const char *leaf, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", lv->dir, leaf);
}

/* Runs argv; 0 when it exited 0, else prints what it said. */
static int run(char *const argv[])
{
	char out[4096];
	int status = -1;
	pgr_err err = { 0 };

	if (proc_run(argv, NULL, 30000, out, sizeof(out), &status, &err) != 0 || status != 0) {
		fprintf(stderr, "%s failed (status %d): %s %s\n", argv[0], status, err.msg, out);
		return -1;
	}
	return 0;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* A CA named name: name.key, name.crt. */
static int make_ca(const struct live *lv, const char *name)
{
	char key[320], crt[320], subj[64];

	in_dir(lv, name, key, sizeof(key));
	strncat(key, ".key", sizeof(key) - strlen(key) - 1);
	in_dir(lv, name, crt, sizeof(crt));
	strncat(crt, ".crt", sizeof(crt) - strlen(crt) - 1);
	snprintf(subj, sizeof(subj), "/CN=%s", name);
	{
		char *argv[] = { OPENSSL_BIN, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
				 "-nodes", "-keyout", key, "-out", crt, "-days", "1", "-subj", subj, NULL };
		return run(argv);
	}
}

/* A certificate name.crt/name.key with subject subj, signed by ca, with the extensions in ext. */
static int make_cert(const struct live *lv, const char *ca, const char *name, const char *subj, const char *ext)
{
	char key[320], csr[320], crt[320], extfile[320], cakey[320], cacrt[320], subject[128];

	snprintf(subject, sizeof(subject), "%s", subj);
	snprintf(key, sizeof(key), "%s/%s.key", lv->dir, name);
	snprintf(csr, sizeof(csr), "%s/%s.csr", lv->dir, name);
	snprintf(crt, sizeof(crt), "%s/%s.crt", lv->dir, name);
	snprintf(extfile, sizeof(extfile), "%s/%s.ext", lv->dir, name);
	snprintf(cakey, sizeof(cakey), "%s/%s.key", lv->dir, ca);
	snprintf(cacrt, sizeof(cacrt), "%s/%s.crt", lv->dir, ca);
	if (write_text(extfile, ext) != 0)
		return -1;
	{
		char *req[] = { OPENSSL_BIN, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
				"-keyout", key, "-out", csr, "-subj", subject, NULL };
		char *sign[] = { OPENSSL_BIN, "x509", "-req", "-in", csr, "-CA", cacrt, "-CAkey", cakey,
				 "-CAcreateserial", "-out", crt, "-days", "1", "-extfile", extfile, NULL };

		if (run(req) != 0 || run(sign) != 0)
			return -1;
	}
	return 0;
}

#endif
