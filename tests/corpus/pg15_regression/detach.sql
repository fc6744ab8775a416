-- Run by build.sh on the regression database before it is dumped (psql, -v lib=THE_BUILD'S_LIBRARY_DIRECTORY/).
-- The suite's C functions name the build's library directory. autoinc and refint (contrib/spi) ship with every
-- PostgreSQL 15 server package: point them at the installed library. regress.so exists only in the build: drop
-- its functions and what depends on them (the NOTICEs list it; README.md in this directory names it).
SELECT set_config('lbt.lib', :'lib', false);
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT oid FROM pg_proc WHERE starts_with(probin, current_setting('lbt.lib'))
             AND probin ~ '/(autoinc|refint)\.so$' LOOP
        EXECUTE regexp_replace(pg_get_functiondef(f), '''[^'']*/(autoinc|refint)\.so''', '''$libdir/\1''');
    END LOOP;
    LOOP  -- one at a time: a drop may cascade to the next one
        SELECT oid INTO f FROM pg_proc WHERE starts_with(probin, current_setting('lbt.lib')) ORDER BY oid LIMIT 1;
        EXIT WHEN f IS NULL;
        RAISE NOTICE 'dropping %, which needs regress.so', f;
        EXECUTE format('DROP FUNCTION %s CASCADE', f);
    END LOOP;
END
$$;
SELECT count(*) AS functions_left_in_the_build_library FROM pg_proc
WHERE starts_with(probin, current_setting('lbt.lib'));
