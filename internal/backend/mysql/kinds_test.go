package mysql

// dbClient and roles are the Database and DatabaseUser clients of e.
func dbClient(e *Engine) databases { return databases{e} }

func roles(e *Engine) users { return users{e} }
