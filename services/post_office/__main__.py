"""`python -m services.post_office`: run the post office API with uvicorn."""

from services.post_office.app import main

main()
