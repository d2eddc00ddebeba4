-- Active symbols; schedules refresh only these.
SELECT ticker FROM symbols WHERE active ORDER BY ticker;
